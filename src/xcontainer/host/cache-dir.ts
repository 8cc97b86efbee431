// The runx cache outside any checkout (guest kernel builds, templates, QEMU build
// identities): RUNX_CACHE_DIR, else $XDG_CACHE_HOME/runx, else ~/.cache/runx — the same
// place guest-kernel/build-*.sh use.
import os from 'node:os';
import path from 'node:path';

export function cacheDir(): string {
  return process.env.RUNX_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'runx');
}
