// The host end of a container's terminal (process.terminal), held by its keeper.
// With --console-socket (containerd, Docker): a host pty whose master goes to the
// socket in one SCM_RIGHTS message, as runc sends it; the keeper keeps the slave in raw
// mode and relays it to the guest's own pty, so the guest's line discipline does echo
// and Ctrl-C. The slave is the keeper's controlling terminal, so the kernel tells the
// keeper (SIGWINCH) when the other end resizes it, and that becomes a `resize` for the
// guest. Without a console socket (`runx run` in the foreground), the caller's own
// terminal is the keeper's stdio, and the caller reports its resizes (op `resize`).
import tty from 'node:tty';
import { messageOf } from '../../errors';
import { log } from '../../log';
import { openConsole } from './console-socket';
import { type WindowSize, native } from '../host/native';
import { writeAllSync } from './write-all';

export class HostTerminal {
  private writable = true;
  private input_?: tty.ReadStream;

  private constructor(readonly consoleFd?: number) {}

  static open(consoleSocket?: string): HostTerminal {
    return new HostTerminal(consoleSocket ? openConsole(consoleSocket) : undefined);
  }

  /** The size to start the guest's terminal with, if there is one to copy. */
  size(): WindowSize | undefined {
    if (this.consoleFd !== undefined) {
      const ws = native().getWinsize(this.consoleFd);
      return ws.rows && ws.cols ? ws : undefined;
    }
    return process.stdout.isTTY ? { rows: process.stdout.rows, cols: process.stdout.columns } : undefined;
  }

  /** Where the container's input comes from, when not the keeper's stdin. */
  input(): NodeJS.ReadableStream | undefined {
    if (this.consoleFd === undefined) return undefined;
    this.input_ ??= new tty.ReadStream(this.consoleFd);
    return this.input_;
  }

  write(buf: Buffer): void {
    if (!this.writable || this.consoleFd === undefined) return;
    try {
      this.writable = writeAllSync(this.consoleFd, buf);
    } catch (err) {
      // EIO: the console's master end was closed; output has nowhere to go.
      log().info(`terminal closed: ${messageOf(err)}`);
      this.writable = false;
    }
  }

  onResize(cb: (size: WindowSize) => void): void {
    if (this.consoleFd === undefined) return;
    const fd = this.consoleFd;
    const check = () => {
      try {
        const ws = native().getWinsize(fd);
        if (ws.rows && ws.cols) cb(ws);
      } catch (err) {
        log().warn(`terminal size: ${messageOf(err)}`);
      }
    };
    process.on('SIGWINCH', check);
    // A size set on the console before this handler existed was not seen.
    check();
  }

  close(): void {
    this.input_?.destroy();
  }
}
