// Finds the guest kernel and initramfs that setup built. Setup installs them in
// /usr/local/lib/runx; RUNX_KERNEL / RUNX_INITRAMFS (or RUNX_ASSET_DIR) override.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../../errors';

export interface GuestAssets {
  kernel: string;
  initramfs: string;
}

export const DEFAULT_ASSET_DIR = '/usr/local/lib/runx';

export function findGuestAssets(env: NodeJS.ProcessEnv = process.env): GuestAssets {
  const dir = env.RUNX_ASSET_DIR ?? DEFAULT_ASSET_DIR;
  const kernel = env.RUNX_KERNEL ?? path.join(dir, 'bzImage');
  const initramfs = env.RUNX_INITRAMFS ?? path.join(dir, 'initramfs.cpio');
  for (const [what, file] of [['guest kernel', kernel], ['guest initramfs', initramfs]] as const) {
    if (!fs.existsSync(file)) {
      throw new RunxError('EHOST', `${what} not found at ${file}: run the setup (make setup) or set RUNX_ASSET_DIR`);
    }
  }
  return { kernel, initramfs };
}
