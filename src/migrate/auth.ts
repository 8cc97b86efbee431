// Authentication of the migration service: mutual TLS (client certificates checked
// against a CA) and/or a shared bearer token. No anonymous access: serve refuses to
// start without one of them, and every call is checked.
import fs from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { RunxError } from '../errors';
import { migrationPackage } from './proto';

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
  const creds = tls
    ? grpc.ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true)
    : grpc.ServerCredentials.createInsecure();
  return { creds, token };
}

export function clientCredentials(o: AuthOptions): { creds: grpc.ChannelCredentials; metadata: grpc.Metadata } {
  const { grpc } = migrationPackage();
  const token = readToken(o.tokenFile);
  const tls = tlsFiles(o);
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const creds = tls ? grpc.credentials.createSsl(tls.ca, tls.key, tls.cert) : grpc.credentials.createInsecure();
  return { creds, metadata };
}

/** True when the call's metadata carries the expected token (or no token is required). */
export function authorized(md: grpc.Metadata, token: string | undefined): boolean {
  if (!token) return true;
  const got = md.get('authorization')[0];
  return typeof got === 'string' && got === `Bearer ${token}`;
}
