// The N-API addon built from native/runx-native.c at `npm ci`: terminals and fd
// passing, which Node cannot do itself. Loaded on first use, so verbs that need no
// terminal never pay for it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../../errors';
import { packageRoot } from '../../package-root';
import { seaAsset } from '../../sea';
import { cacheDir } from './cache-dir';

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
  /** The calling (main) thread joins the network namespace open at fd. */
  setNetns(fd: number): void;
  /** The calling (main) thread enters the cgroup namespace open at fd, or a new one when fd is -1. */
  enterCgroupns(fd: number): void;
}

/** The addon's path in a checkout, and its name among the one-file binary's files. */
export const NATIVE_ADDON_FILE = 'native/build/runx_native.node';

/**
 * A file built in native/ (the addon, runx-share-stage), by its package-relative name:
 * in a checkout, where the build put it; in the one-file binary, written out once to
 * the cache (dlopen and exec cannot use it from memory), named by its digest, so
 * binaries of different builds never use each other's.
 */
export function nativeFile(relativeName: string): string {
  const embedded = seaAsset(relativeName);
  if (!embedded) return path.join(packageRoot, relativeName);
  const digest = crypto.createHash('sha256').update(embedded).digest('hex').slice(0, 16);
  const dir = path.join(cacheDir(), 'native');
  const ext = path.extname(relativeName);
  const file = path.join(dir, `${path.basename(relativeName, ext)}-${digest}${ext}`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, embedded, { mode: 0o500 });
    fs.renameSync(tmp, file);
  }
  return file;
}

let addon: RunxNative | undefined;
export function native(): RunxNative {
  if (!addon) {
    let file = NATIVE_ADDON_FILE;
    try {
      file = nativeFile(NATIVE_ADDON_FILE);
      const m = { exports: {} as RunxNative };
      process.dlopen(m, file);
      addon = m.exports;
    } catch (err) {
      throw new RunxError('EHOST', `the runx native addon cannot be loaded (${file}); run "npm ci" in the runx checkout: ${(err as Error).message}`);
    }
  }
  return addon;
}
