// Authentication of the migration service: mutual TLS (client certificates checked
// against a CA) and/or a shared bearer token. No anonymous access: serve refuses to
// start without one of them, and every call is checked. The channel is always TLS:
// with only a token, both ends use the certificate the token stands for
// (token-tls.ts), so the token never crosses the network in cleartext. Tokens are
// compared in constant time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { RunxError } from '../errors';
import { CHANNEL_OPTIONS, migrationPackage } from './proto';
import { TOKEN_CERT_NAME, tokenIdentity } from './token-tls';

export interface AuthOptions {
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

export function readToken(file: string | undefined): string | undefined {
  if (!file) return undefined;
  let token: string;
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new RunxError('EUSAGE', `cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if (!token) throw new RunxError('EUSAGE', `token file ${file} is empty`);
  return token;
}

function tlsFiles(o: AuthOptions): { cert: Buffer; key: Buffer; ca: Buffer } | undefined {
  const given = [o.tlsCert, o.tlsKey, o.tlsCa].filter(Boolean).length;
  if (given === 0) return undefined;
  if (given !== 3) throw new RunxError('EUSAGE', '--tls-cert, --tls-key and --tls-ca go together');
  const read = (f: string) => {
    try {
      return fs.readFileSync(f);
    } catch (err) {
      throw new RunxError('EUSAGE', `cannot read ${f}: ${(err as NodeJS.ErrnoException).code}`);
    }
  };
  return { cert: read(o.tlsCert!), key: read(o.tlsKey!), ca: read(o.tlsCa!) };
}

export function serverCredentials(o: AuthOptions): { creds: grpc.ServerCredentials; token?: string } {
  const { grpc } = migrationPackage();
  const token = readToken(o.tokenFile);
  const tls = tlsFiles(o);
  if (!token && !tls) throw new RunxError('EUSAGE', 'runx serve needs --token-file or --tls-cert/--tls-key/--tls-ca: anonymous migration is refused');
  const { cert, key, ca } = tls ?? { ...tokenIdentity(token!), ca: tokenIdentity(token!).cert };
  const creds = grpc.ServerCredentials.createSsl(ca, [{ private_key: key, cert_chain: cert }], true);
  return { creds, token };
}

/** The channel's credentials, the calls' metadata, and the options to make the channel with. */
export function clientCredentials(o: AuthOptions): { creds: grpc.ChannelCredentials; metadata: grpc.Metadata; options: grpc.ChannelOptions } {
  const { grpc } = migrationPackage();
  const token = readToken(o.tokenFile);
  const tls = tlsFiles(o);
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  if (!token && !tls) throw new RunxError('EUSAGE', 'migration needs --token-file or --tls-cert/--tls-key/--tls-ca');
  if (tls) return { creds: grpc.credentials.createSsl(tls.ca, tls.key, tls.cert), metadata, options: CHANNEL_OPTIONS };
  // The certificate is pinned (it is the only root): the host name it was reached by
  // does not matter, and the name sent (SNI) is the certificate's, not an address.
  const id = tokenIdentity(token!);
  const creds = grpc.credentials.createSsl(id.cert, id.key, id.cert, { checkServerIdentity: () => undefined });
  return { creds, metadata, options: { ...CHANNEL_OPTIONS, 'grpc.ssl_target_name_override': TOKEN_CERT_NAME } };
}

/**
 * The message of a failed call, where a TLS handshake that failed on certificates
 * means a peer that holds another token (or other certificates).
 */
export function callErrorMessage(err: { details?: string; message: string }): string {
  const text = err.details || err.message;
  if (/certificate|handshake|SSL|alert/i.test(text) && /No connection established/.test(text)) {
    return `unauthenticated: the TLS handshake with the migration service failed (${text.replace(/^.*Last error: (Error: )?/, '').replace(/\.? ?Resolution note:.*$/, '')}): another token or certificate?`;
  }
  return text;
}

/** Equal strings, in time that does not depend on where they differ (HMACs of both, of equal length). */
export function sameSecret(a: string, b: string): boolean {
  const key = crypto.randomBytes(32);
  const mac = (s: string) => crypto.createHmac('sha256', key).update(s, 'utf8').digest();
  return crypto.timingSafeEqual(mac(a), mac(b));
}

/** True when the call's metadata carries the expected token (or no token is required). */
export function authorized(md: grpc.Metadata, token: string | undefined): boolean {
  if (!token) return true;
  const got = md.get('authorization')[0];
  return typeof got === 'string' && sameSecret(got, `Bearer ${token}`);
}
