// The TLS identity a shared token stands for: an Ed25519 key derived from the token
// (HKDF-SHA256) and a self-signed certificate built from it deterministically (fixed
// name, serial and validity; Ed25519 signatures are deterministic). Both ends of a
// token-only migration channel compute the same certificate from the token alone, so
// each presents it and trusts only it: the channel is encrypted, and only token
// holders complete the handshake (mutual TLS), before any bearer token is sent.
import crypto from 'node:crypto';

/** The certificate's common name, which clients also send as the server name. */
export const TOKEN_CERT_NAME = 'runx-migration';
const NAME = TOKEN_CERT_NAME;
/** PKCS#8 of an Ed25519 private key, before its 32-byte seed (RFC 8410). */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const OID_ED25519 = Buffer.from('06032b6570', 'hex');
const OID_COMMON_NAME = Buffer.from('0603550403', 'hex');

export interface TokenIdentity {
  /** PEM certificate, the same on every host with the token. */
  cert: Buffer;
  /** PEM PKCS#8 private key. */
  key: Buffer;
}

function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...p: Buffer[]) => der(0x30, ...p);
const pem = (label: string, body: Buffer) => Buffer.from(`-----BEGIN ${label}-----\n${body.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`);

const cache = new Map<string, TokenIdentity>();

/** The certificate and key the token stands for (computed once per token). */
export function tokenIdentity(token: string): TokenIdentity {
  const hit = cache.get(token);
  if (hit) return hit;
  const seed = Buffer.from(crypto.hkdfSync('sha256', Buffer.from(token, 'utf8'), 'runx migration channel v1', 'ed25519 key', 32));
  const pkcs8 = Buffer.concat([PKCS8_ED25519, seed]);
  const priv = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const spki = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' });
  const alg = seq(OID_ED25519);
  const name = seq(der(0x31, seq(OID_COMMON_NAME, der(0x0c, Buffer.from(NAME)))));
  const validity = seq(der(0x18, Buffer.from('20000101000000Z')), der(0x18, Buffer.from('99991231235959Z')));
  const tbs = seq(der(0xa0, der(0x02, Buffer.from([2]))), der(0x02, Buffer.from([1])), alg, name, validity, name, spki);
  const signature = crypto.sign(null, tbs, priv);
  const cert = seq(tbs, alg, der(0x03, Buffer.from([0]), signature));
  const id = { cert: pem('CERTIFICATE', cert), key: pem('PRIVATE KEY', pkcs8) };
  cache.set(token, id);
  return id;
}
