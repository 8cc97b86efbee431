// The destination's watch on the sources of its incoming migrations: between Prepare's
// reply and Finish the source pings (docs/protocol/migration.proto, Ping). One that
// goes silent for the timeout (a link cut, a host gone, a killed `runx migrate`) has
// its incoming VM aborted, so no `creating` orphan keeps the id and an NBD export
// open, and a retry finds the id free.
import { log } from '../log';

export const DEFAULT_SOURCE_TIMEOUT_MS = 60_000;

export class SourceWatch {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly timeoutMs: number, private readonly onSilent: (id: string, why: string) => void) {}

  /** The source of `id` was heard from now: its timeout starts again. */
  heard(id: string): void {
    this.stop(id);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      const why = `its source went silent for ${this.timeoutMs / 1000} s`;
      log().warn(`incoming migration of ${id}: ${why}`);
      this.onSilent(id, why);
    }, this.timeoutMs);
    // A timer alone does not keep serve alive.
    timer.unref();
    this.timers.set(id, timer);
  }

  /** Finish or Abort: nothing more to wait for. */
  stop(id: string): void {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
  }

  watching(id: string): boolean {
    return this.timers.has(id);
  }
}
