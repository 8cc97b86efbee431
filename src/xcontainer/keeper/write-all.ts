// Writes a whole buffer to a file descriptor synchronously. The keeper's stdout and
// stderr are the container's: every byte must reach them before the keeper exits,
// also when the descriptor is a non-blocking pipe that is momentarily full.
import fs from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Returns false when the reader is gone (EPIPE); the caller stops writing there. */
export function writeAllSync(fd: number, buf: Buffer): boolean {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 2);
        continue;
      }
      if (code === 'EPIPE' || code === 'EBADF') return false;
      throw err;
    }
  }
  return true;
}
