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

  /**
   * @param send puts one chunk on the wire (an empty one is EOF); never more than
   *   `maxChunk` bytes, and never more than the credit left.
   */
  constructor(private readonly send: (chunk: Buffer) => void, private readonly maxChunk: number, private readonly window = STDIN_WINDOW) {
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
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
    if (this.queue.length === 0 && this.eofQueued && !this.closed) {
      this.send(Buffer.alloc(0));
      this.closed = true;
    }
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
