// The pre-shared key of one migration's streams on disk: `keys.psk` (one line,
// "identity:hex key", QEMU's tls-creds-psk format), 0600 in a fresh 0700 directory of
// the container's state directory. The migration service writes it for the
// destination keeper, which reads it once and removes it; the key then lives only in
// the keepers' memory (stream-tunnel.ts).
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../../errors';

/** The pre-shared key of one migration: identity (no ':') and 32 bytes in hex. */
export interface PskCreds {
  identity: string;
  keyHex: string;
}

const FILE = 'keys.psk';

/** Makes `dir` afresh (0700) with keys.psk (0600) holding only this identity and key. */
export function writePskDir(dir: string, psk: PskCreds): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.writeFileSync(path.join(dir, FILE), `${psk.identity}:${psk.keyHex}\n`, { mode: 0o600, flag: 'wx' });
}

/** Reads the key written by writePskDir. */
export function readPskDir(dir: string): PskCreds {
  let line: string;
  try {
    line = fs.readFileSync(path.join(dir, FILE), 'utf8').trim();
  } catch (err) {
    throw new RunxError('ESTATE', `cannot read the migration key in ${dir}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const m = /^([^:]+):([0-9a-f]{64})$/.exec(line);
  if (!m) throw new RunxError('ESTATE', `the migration key in ${dir} is malformed`);
  return { identity: m[1]!, keyHex: m[2]! };
}

export function removePskDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
