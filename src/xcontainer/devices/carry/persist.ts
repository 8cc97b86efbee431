// The carry disk's part of a VM (devices/carry/config.ts): its QEMU arguments, after
// the shares, when the container carries bind mounts. Its size is what a migration's
// destination makes the empty disk of; whether there is one follows from the shares'
// binds, so a restore takes nothing from this state.
import fs from 'node:fs';
import path from 'node:path';
import type { DevicePart } from '../part';
import { CARRY_DISK, carryDiskArgs, hasCarryDisk } from './config';

export interface CarryState {
  /** 0: the VM has no carry disk. */
  bytes: number;
}

export const carryPart: DevicePart<CarryState> = {
  argv: ({ shares }) => (hasCarryDisk(shares) ? carryDiskArgs() : []),
  save: ({ dir, qemu }) => {
    if (!hasCarryDisk(qemu.shares)) return { bytes: 0 };
    try {
      return { bytes: fs.statSync(path.join(dir, CARRY_DISK)).size };
    } catch {
      return { bytes: 0 };
    }
  },
};
