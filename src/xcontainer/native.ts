// The N-API addon built from native/runx-native.c at `npm ci`: terminals and fd
// passing, which Node cannot do itself. Loaded on first use, so verbs that need no
// terminal never pay for it.
import path from 'node:path';
import { RunxError } from '../errors';
import { packageRoot } from '../package-root';

export interface PtyPair {
  master: number;
  slave: number;
  /** The slave's path, e.g. /dev/pts/3. */
  path: string;
}

export interface WindowSize {
  rows: number;
  cols: number;
}

export interface RunxNative {
  openpty(): PtyPair;
  /** Sends fd over the AF_UNIX stream socket at socketPath in one SCM_RIGHTS message, with name as its data. */
  sendFd(socketPath: string, fd: number, name: string): void;
  /** Listens at socketPath, accepts one connection, returns the fd it carries (blocking). */
  receiveFd(socketPath: string): number;
  makeControllingTty(fd: number): void;
  getWinsize(fd: number): WindowSize;
  setWinsize(fd: number, rows: number, cols: number): void;
  setRaw(fd: number): void;
}

export const NATIVE_ADDON_PATH = path.join(packageRoot, 'native', 'build', 'runx_native.node');

let addon: RunxNative | undefined;
export function native(): RunxNative {
  if (!addon) {
    try {
      addon = require(NATIVE_ADDON_PATH) as RunxNative;
    } catch (err) {
      throw new RunxError('EHOST', `the runx native addon is missing (${NATIVE_ADDON_PATH}); run "npm ci" in the runx checkout: ${(err as Error).message}`);
    }
  }
  return addon;
}
