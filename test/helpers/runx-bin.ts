// The runx the end-to-end tests drive, chosen as test/runx-bin.bash chooses it for bats.
import fs from 'node:fs';
import path from 'node:path';

export function runxBin(repo: string): string {
  if (process.env.RUNX_BIN) return process.env.RUNX_BIN;
  const oneFile = path.join(repo, 'dist', 'runx');
  try {
    fs.accessSync(oneFile, fs.constants.X_OK);
    return oneFile;
  } catch {
    return path.join(repo, 'bin', 'runx');
  }
}
