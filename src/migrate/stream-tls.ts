// The key of one migration's QEMU-to-QEMU streams (memory over the migration stream,
// disk over NBD), which the keepers' TLS-PSK tunnel uses (stream-tunnel.ts). The destination
// makes a fresh PSK identity and secret at Prepare and sends them back over the
// authenticated TLS control channel; the key is HKDF-SHA256 of the token (when there
// is one) and that secret, salted with the source's nonce from Prepare and bound to
// the container's id. Only that migration's source knows it, so the destination's
// ports accept no one else, and a key never serves two migrations.
import crypto from 'node:crypto';
import { RunxError } from '../errors';
import type { PskCreds } from '../xcontainer/vm/tls-creds';

/** What the destination sends back in PrepareReply. */
export interface StreamSecret {
  identity: string;
  secret: Buffer;
}

export function newNonce(): Buffer {
  return crypto.randomBytes(32);
}

/** Destination: a fresh identity and secret for one incoming migration. */
export function newStreamSecret(): StreamSecret {
  return { identity: `runx-${crypto.randomBytes(12).toString('hex')}`, secret: crypto.randomBytes(32) };
}

/** Both ends: the PSK of the migration whose Prepare carried `nonce` and got `s` back. */
export function streamKey(token: string | undefined, s: StreamSecret, nonce: Buffer, containerId: string): PskCreds {
  if (nonce.length < 16) throw new RunxError('EUSAGE', 'the source sent no stream nonce: its runx cannot encrypt the migration streams (upgrade it)');
  if (!/^runx-[0-9a-f]{24}$/.test(s.identity) || s.secret.length < 32) throw new RunxError('EUSAGE', 'the destination offered no stream key: its runx cannot encrypt the migration streams (upgrade it)');
  const ikm = Buffer.concat([Buffer.from(token ?? '', 'utf8'), Buffer.from([0]), s.secret]);
  const key = Buffer.from(crypto.hkdfSync('sha256', ikm, nonce, `runx migration streams v1\0${containerId}`, 32));
  return { identity: s.identity, keyHex: key.toString('hex') };
}
