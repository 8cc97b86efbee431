// A stand-in for the net.Socket a protocol client reads and writes: what the client
// writes is collected, and the test feeds it chunks (split or merged as it likes) and
// closes it. The clients use only on('data'|'close'|'error'), write and destroy.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

export class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  destroyed = false;

  write(data: Buffer | string): boolean {
    this.written.push(Buffer.from(data));
    return true;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }

  /** Delivers bytes as the peer's, in the given chunks. */
  feed(...chunks: Array<Buffer | string>): void {
    for (const c of chunks) this.emit('data', Buffer.from(c));
  }

  asSocket(): Socket {
    return this as unknown as Socket;
  }
}

/** Every split of `wire` into two chunks, and the whole in one. */
export function everySplit(wire: Buffer): Buffer[][] {
  const out: Buffer[][] = [[wire]];
  for (let cut = 1; cut < wire.length; cut++) out.push([wire.subarray(0, cut), wire.subarray(cut)]);
  return out;
}
