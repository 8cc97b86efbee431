// Stdin flow control, the sending side (docs/protocol/agent.md, "Flow control"): one
// stdin stream's bytes go out only within the credit its receiver has granted, which
// starts at STDIN_WINDOW; the rest wait here, and the writer is told to pause its
// source until they have gone. Both the keeper (towards the agent) and an exec relay
// (towards the keeper, which passes the agent's credit on) send stdin through one.
import { EventEmitter } from 'node:events';
import { STDIN_WINDOW } from './agent-frames';

interface CreditedStreamEvents {
  /** Everything queued has gone out: the source may resume. */
  drain: [];
}

export class CreditedStream extends EventEmitter<CreditedStreamEvents> {
  private credit: number;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private eofQueued = false;
  private closed = false;
  /** Every byte put on the wire so far: a resync counts those sent after its mark. */
  private sentTotal = 0;
  /** Held back (queued, not dropped) while the receiver is refused: see suspend(). */
  private suspended = false;
  private eofSent = false;
  /**
   * The stream offset, as its receiver counts it (the agent's `rx`: bytes, EOF
   * counting 1, since the VM booted), of this end's first byte; undefined until the
   * receiver has said (setOrigin).
   */
  private origin?: number;
  /** The last `window` bytes sent (with an EOF sent, an empty chunk), each with the local count it ends at: see handOff(). */
  private readonly recent: Array<{ end: number; data: Buffer }> = [];
  private recentBytes = 0;

  /**
   * @param send puts one chunk on the wire (an empty one is EOF); never more than
   *   `maxChunk` bytes, and never more than the credit left.
   */
  /** @param retain keep what handOff() needs (the container's stream, which can move to another host). */
  constructor(private readonly send: (chunk: Buffer) => void, private readonly maxChunk: number, private readonly window = STDIN_WINDOW, private readonly retain = false) {
    super();
    this.credit = window;
  }

  /** Bytes accepted but not yet sent for want of credit. */
  get waiting(): number {
    return this.queued;
  }

  /** Bytes sent so far: the mark a resync takes (`resync(held, mark)`). */
  get sent(): number {
    return this.sentTotal;
  }

  /**
   * The receiver said it holds `held` bytes it has not granted back, as of when it
   * read what we had sent up to `mark` (the `sent` of the moment we asked): the credit
   * left is the window less those and less what we sent after the mark. Replaces our
   * own count, which a new connection to an agent that lived on (a restore, a
   * reconnect) does not know: starting full would let it hold up to two windows.
   */
  resync(held: number, mark: number): void {
    if (this.closed || !(held >= 0)) return;
    this.credit = this.window - held - (this.sentTotal - mark);
    const wasWaiting = this.queued > 0;
    this.flush();
    if (wasWaiting && this.queued === 0) this.emit('drain');
  }

  /** Bytes and EOF sent so far, EOF counting 1: the mark setOrigin takes. */
  get count(): number {
    return this.sentTotal + (this.eofSent ? 1 : 0);
  }

  /**
   * The receiver said it had read `rx` of the stream (in its own count, which moves
   * with the VM) as of when it read what we had sent up to `mark` (our `count` then).
   */
  setOrigin(rx: number, mark: number): void {
    if (rx >= 0 && Number.isSafeInteger(rx)) this.origin = rx - mark;
  }

  /** Where this end has got to in the receiver's count; undefined if it never said. */
  get offset(): number | undefined {
    return this.origin === undefined ? undefined : this.origin + this.count;
  }

  /**
   * Another end takes the stream over (a migration's stand-in link, agent.md "Stdin
   * across a migration"): what was sent lately, which may never have reached the
   * receiver (it was still in QEMU when the VM stopped), as chunks ending at their
   * stream offset; what waits for credit; and whether EOF waits. This end is closed:
   * nothing more goes out, and a paused source is let go on (to the new end).
   */
  handOff(): { offset?: number; recent: Array<{ end: number; data: Buffer }>; waiting: Buffer[]; eof: boolean } {
    const origin = this.origin;
    const out = {
      offset: this.offset,
      recent: origin === undefined ? [] : this.recent.map((r) => ({ end: origin + r.end, data: r.data })),
      waiting: [...this.queue],
      eof: this.eofQueued && !this.eofSent,
    };
    this.close();
    return out;
  }

  /** Nothing more goes out (what waits stays queued, the source stays paused) until unsuspend(). */
  suspend(): void {
    this.suspended = true;
  }

  unsuspend(): void {
    if (!this.suspended) return;
    this.suspended = false;
    const wasWaiting = this.queued > 0;
    this.flush();
    if (wasWaiting && this.queued === 0) this.emit('drain');
  }

  /**
   * Sends data now as far as credit allows and queues the rest; an empty buffer is
   * EOF, which goes out after what is queued. False when something is left waiting:
   * the caller pauses its source until 'drain', so nothing piles up here.
   */
  write(data: Buffer): boolean {
    if (this.closed || this.eofQueued) return true;
    if (data.length === 0) this.eofQueued = true;
    else {
      this.queue.push(data);
      this.queued += data.length;
    }
    this.flush();
    return this.queued === 0;
  }

  /** The receiver took n more bytes off its buffer. */
  grant(n: number): void {
    if (this.closed || !(n > 0)) return;
    this.credit += n;
    const wasWaiting = this.queued > 0;
    this.flush();
    if (wasWaiting && this.queued === 0) this.emit('drain');
  }

  /** The receiver is gone: drop what waits, and let a paused source go on (into nothing). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const wasWaiting = this.queued > 0;
    this.queue.length = 0;
    this.queued = 0;
    if (wasWaiting) this.emit('drain');
  }

  private flush(): void {
    if (this.suspended) return;
    while (this.queue.length > 0 && this.credit > 0) {
      const head = this.queue[0]!;
      const n = Math.min(head.length, this.credit, this.maxChunk);
      this.send(head.subarray(0, n));
      this.credit -= n;
      this.queued -= n;
      this.sentTotal += n;
      this.remember(head.subarray(0, n));
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
    if (this.queue.length === 0 && this.eofQueued && !this.closed) {
      this.send(Buffer.alloc(0));
      this.eofSent = true;
      this.remember(Buffer.alloc(0));
      this.closed = true;
    }
  }

  /** Keeps the last window of what went out: no more than that can be on its way (the credit bounds it). */
  private remember(data: Buffer): void {
    if (!this.retain) return;
    this.recent.push({ end: this.count, data });
    this.recentBytes += data.length;
    while (this.recent.length > 1 && this.recentBytes - this.recent[0]!.data.length >= this.window) this.recentBytes -= this.recent.shift()!.data.length;
  }
}

/** A source of stdin that can be held back: a readable stream, a socket. */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

/**
 * A writer of source's chunks into a credited stream that pauses source while the
 * stream has bytes waiting for credit, and resumes it on the stream's 'drain'.
 */
export function pausingWriter(source: Pausable): (stream: CreditedStream, chunk: Buffer) => void {
  let paused = false;
  return (stream, chunk) => {
    if (stream.write(chunk) || paused) return;
    paused = true;
    source.pause();
    stream.once('drain', () => {
      paused = false;
      source.resume();
    });
  };
}
