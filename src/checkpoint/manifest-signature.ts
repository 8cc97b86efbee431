// Authenticity of a checkpoint image: `checkpoint --sign-key F` puts an HMAC-SHA256 of
// the manifest into it, and `restore --verify-key F` refuses an image without one or
// whose MAC does not match. The manifest holds the size and sha256 of every file, so
// the MAC covers the whole image.
//
// HMAC rather than Ed25519: the hosts that exchange images (the spot daemon's peers)
// already share a secret, their migration token, and a key derived from it signs and
// verifies alike; a key pair would add key distribution for no gain between peers
// that trust each other equally. Ed25519 would be the choice for images published by
// one signer to many verifiers, which runx does not do.
//
// The MAC key is never the file's bytes themselves but HKDF-SHA256 of them, with a
// context of its own, so a migration token also used as a bearer token, or a key file
// used for something else, never yields the same secret twice.
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { RunxError } from '../errors';

export const SIGNATURE_ALG = 'hmac-sha256';
const SALT = 'runx checkpoint manifest';
const MIN_KEY_BYTES = 32;

export interface ManifestSignature {
  alg: typeof SIGNATURE_ALG;
  /** Names the key (a digest of it), so a wrong key is told apart from a forged image. */
  keyId: string;
  mac: string;
}

export interface SigningKey {
  key: Buffer;
  keyId: string;
}

function derive(ikm: Buffer, info: string): SigningKey {
  const key = Buffer.from(hkdfSync('sha256', ikm, SALT, info, 32));
  return { key, keyId: createHash('sha256').update('runx key id\0').update(key).digest('hex').slice(0, 16) };
}

/** The key in a key file (at least 32 bytes, e.g. `head -c 32 /dev/urandom`). */
export function readSigningKey(file: string, flag: string): SigningKey {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new RunxError('EUSAGE', `${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
  }
  if (bytes.length < MIN_KEY_BYTES) throw new RunxError('EUSAGE', `${flag} ${file}: a key must have at least ${MIN_KEY_BYTES} bytes, this file has ${bytes.length}`);
  return derive(bytes, 'key file v1');
}

/** The key two peers derive from the migration token they share (the spot daemon's). */
export function keyFromToken(token: string): SigningKey {
  return derive(Buffer.from(token, 'utf8'), 'migration token v1');
}

/** `body`: the manifest's canonical text without its digest and signature. */
export function signManifest(body: string, k: SigningKey): ManifestSignature {
  return { alg: SIGNATURE_ALG, keyId: k.keyId, mac: createHmac('sha256', k.key).update(body).digest('hex') };
}

/** Throws a one-line error unless `sig` is a MAC of `body` under `k`. */
export function verifyManifestSignature(body: string, sig: unknown, k: SigningKey, where: string): void {
  if (sig === undefined) throw new RunxError('ECONFIG', `${where}: the image is not signed, and --verify-key requires a signed image`);
  const s = sig as Partial<ManifestSignature>;
  if (typeof s !== 'object' || s === null || s.alg !== SIGNATURE_ALG || typeof s.mac !== 'string' || typeof s.keyId !== 'string') {
    throw new RunxError('ECONFIG', `${where}: its signature is malformed (expected ${SIGNATURE_ALG})`);
  }
  if (s.keyId !== k.keyId) throw new RunxError('ECONFIG', `${where}: signed with another key (key id ${s.keyId}; --verify-key is ${k.keyId})`);
  const want = Buffer.from(signManifest(body, k).mac, 'hex');
  const got = Buffer.from(/^[0-9a-f]{64}$/.test(s.mac) ? s.mac : '', 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new RunxError('ECONFIG', `${where}: signature verification failed (the manifest was altered)`);
}
