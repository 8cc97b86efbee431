// The root disk's part of a VM's state (Firecracker's Persist, devices/virtio/block):
// which file in the state dir backs virtio-blk, and its size, which a migration's
// destination makes its empty disk of and a template start grows the guest's to.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT_DISK } from '../../vm/vm-files';
import type { DevicePart } from '../part';

export interface BlockState {
  /** The disk image, relative to the state dir. */
  file: string;
  bytes: number;
}

/** The state of the root disk in state dir `dir` (its size as it is now). */
export function blockToState(dir: string): BlockState {
  let bytes = 0;
  try {
    bytes = fs.statSync(path.join(dir, ROOT_DISK)).size;
  } catch { /* not made yet: a VM still being provisioned */ }
  return { file: ROOT_DISK, bytes };
}

/** The disk image's path for a saved state, in state dir `dir`. */
export function blockFromState(dir: string, s: BlockState): string {
  return path.join(dir, s.file);
}

export const blockPart: DevicePart<BlockState> = { save: ({ dir }) => blockToState(dir) };
