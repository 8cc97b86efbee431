// Flag values checked and made usable where the user typed them. File flags are made
// absolute against the caller's working directory: what reads them later (a keeper, a
// migration's stand-in) works from a container's state directory, where a relative
// path names another file. A token file others can read is a shared secret shared too
// widely: it is warned about. Durations must be positive numbers of seconds.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { log } from '../log';

/** `o` with each named flag that is set made absolute. */
export function absolutePaths<T extends object>(o: T, keys: ReadonlyArray<keyof T>): T {
  const out = { ...o };
  for (const k of keys) {
    const v = out[k];
    if (typeof v === 'string' && v !== '') out[k] = path.resolve(v) as T[keyof T];
  }
  return out;
}

/** Warns (one line on stderr) if group or others may read the token file. */
export function warnIfTokenExposed(file: string | undefined): void {
  if (!file) return;
  let mode: number;
  try {
    mode = fs.statSync(file).mode;
  } catch {
    return; // reading it reports the problem
  }
  if (mode & 0o044) {
    log().warn(`token file ${file} is readable by ${mode & 0o004 ? 'others' : 'its group'} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): anyone who reads it can migrate containers to or from this host; chmod 600 it`);
  }
}

/** A positive number of seconds given to `flag`. */
export function seconds(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new RunxError('EUSAGE', `${flag} must be a positive number of seconds, not "${value}"`);
  return n;
}
