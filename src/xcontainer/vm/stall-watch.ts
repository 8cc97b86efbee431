// A migration phase's stall timeout: a counter (bytes of disk mirrored, of memory
// sent) that has not moved for the timeout means the other end is gone or the link
// is cut, and the phase fails then, with the source VM running on, instead of waiting
// for TCP to give up (many minutes).
import { RunxError } from '../../errors';

export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export class StallWatch {
  private last: number | undefined;
  private since = Date.now();

  constructor(private readonly timeoutMs: number, private readonly what: string) {}

  /** Records the counter's value now; throws once it has not changed for the timeout. */
  progress(value: number, now = Date.now()): void {
    if (value !== this.last) {
      this.last = value;
      this.since = now;
      return;
    }
    if (now - this.since > this.timeoutMs) {
      throw new RunxError('EHOST', `${this.what} made no progress for ${this.timeoutMs / 1000} s (is the link to the destination down?)`);
    }
  }
}
