// The keeper's fd 3, a socket pair with whoever started it (keeper-spawn.ts): the go
// line it waits for before reading launch.json, and the one ready line it answers
// with once the VM is up and the container prepared (or why not).
import fs from 'node:fs';
import { KEEPER_GO, type KeeperReady } from './keeper-launch';

const READY_FD = 3;

/**
 * Blocks until the starter's go line (keeperGo): launch.json is written then. False
 * on EOF: the starter went away (or failed) before that, and there is nothing to keep.
 */
export function awaitGo(): boolean {
  const buf = Buffer.alloc(16);
  let text = '';
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(READY_FD, buf, 0, buf.length, null);
    } catch (err) {
      // Our end of the socket pair is blocking; this only guards a starter that made it not.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      return false;
    }
    if (n === 0) return false;
    text += buf.toString('utf8', 0, n);
    if (text.includes('\n')) return text.startsWith(`${KEEPER_GO}\n`);
  }
}

/** Sends the ready line and closes fd 3. */
export function reportReady(reply: KeeperReady): void {
  try {
    fs.writeSync(READY_FD, `${JSON.stringify(reply)}\n`);
    fs.closeSync(READY_FD);
  } catch { /* create went away; nothing to tell */ }
}
