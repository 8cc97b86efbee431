// The host end of --console-socket, as runc does it: a new pty whose master goes to
// the socket in one SCM_RIGHTS message (with the pty's path as the data); the caller
// keeps the slave, in raw mode (the guest's own terminal does the line discipline),
// as its controlling terminal, so the kernel sends it SIGWINCH when the holder of the
// master resizes it. Used by the keeper (the container's terminal) and by exec relays.
import fs from 'node:fs';
import { RunxError, messageOf } from '../../errors';
import { log } from '../../log';
import { native } from '../host/native';

/** Returns the slave's fd. A socket nobody listens on is a one-line usage error. */
export function openConsole(consoleSocket: string): number {
  const n = native();
  const pty = n.openpty();
  try {
    n.sendFd(consoleSocket, pty.master, pty.path);
  } catch (err) {
    fs.closeSync(pty.master);
    fs.closeSync(pty.slave);
    throw new RunxError('EUSAGE', `cannot send the terminal to the console socket ${consoleSocket}: ${messageOf(err).replace(/^connect: /, '')}`);
  }
  // Ours no more: the holder of the socket's other end owns the master now.
  fs.closeSync(pty.master);
  n.setRaw(pty.slave);
  try {
    n.makeControllingTty(pty.slave);
  } catch (err) {
    log().warn(`the console will not follow window size changes: ${messageOf(err)}`);
  }
  return pty.slave;
}
