// The volume roots a migration service is given (`runx serve --volume-root`, the spot
// daemon's `volumeRoots`): existing directories, made absolute (wire-shares.ts places
// an incoming container's binds inside them at their own paths).
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';

/** `what` names the setting in the one-line error. */
export function volumeRoots(dirs: readonly string[], what: string): string[] {
  return dirs.map((d) => {
    const abs = path.resolve(d);
    if (!fs.statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw new RunxError('EUSAGE', `${what} ${d}: not a directory`);
    return abs;
  });
}
