// The loop every metadata watcher runs: poll, wait, repeat; on failure log a warning
// and back off exponentially (capped), never throw out of the loop. `maxPolls` bounds
// the loop (tests always set it); stop() aborts the request in flight and any wait.
import type { Logger } from 'pino';
import { log } from '../../log';
import { messageOf } from '../../errors';
import { TypedEmitter, type Notice, type ProviderKind, type Watcher, type WatcherEvents } from '../notice';

export interface PollOptions {
  /** Metadata service base URL, e.g. http://169.254.169.254 (tests: a loopback fake). */
  endpoint: string;
  /** Wait between successful polls. */
  intervalMs: number;
  /** Per-request timeout. */
  requestTimeoutMs: number;
  /** First back-off after a failure, doubled per consecutive failure up to backoffMaxMs. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Stop after this many polls (undefined: run until stop()). */
  maxPolls?: number;
  /** Clock, for deadlines computed from "now" (GCP). */
  now: () => number;
  logger: Pick<Logger, 'warn' | 'info' | 'debug'>;
}

export const DEFAULT_POLL: Omit<PollOptions, 'endpoint' | 'logger'> = {
  intervalMs: 5_000,
  requestTimeoutMs: 2_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 30_000,
  now: Date.now,
};

export function pollOptions(defaults: Partial<PollOptions> & { endpoint: string }, given: Partial<PollOptions>): PollOptions {
  const merged = { ...DEFAULT_POLL, ...defaults, ...stripUndefined(given) };
  return { ...merged, logger: merged.logger ?? log() } as PollOptions;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Resolves after ms, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done, { once: true });
  });
}

export abstract class PollingWatcher extends TypedEmitter<WatcherEvents> implements Watcher {
  abstract readonly provider: ProviderKind;
  protected readonly opts: PollOptions;
  private abort?: AbortController;
  private loop?: Promise<void>;
  private readonly seen = new Set<string>();

  constructor(opts: PollOptions) {
    super();
    this.opts = opts;
  }

  /** One poll; returns how long to wait before the next (default intervalMs). */
  protected abstract pollOnce(signal: AbortSignal): Promise<number | void>;

  async acknowledge(_notice: Notice): Promise<void> { /* most clouds have no such step */ }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
  }

  /** Emits a notice once per identity. */
  protected report(notice: Notice): void {
    if (this.seen.has(notice.id)) return;
    this.seen.add(notice.id);
    this.opts.logger.info({ provider: notice.provider, kind: notice.kind, deadline: notice.deadline.toISOString() }, 'spot notice');
    this.emit('notice', notice);
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let count = 0;
    try {
      while (!signal.aborted && (this.opts.maxPolls === undefined || count < this.opts.maxPolls)) {
        count++;
        let wait: number;
        let ok = true;
        try {
          const next = await this.pollOnce(signal);
          failures = 0;
          wait = next ?? this.opts.intervalMs;
        } catch (err) {
          if (signal.aborted) break;
          failures++;
          wait = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** (failures - 1));
          const message = messageOf(err);
          this.opts.logger.warn({ provider: this.provider, failures, retryInMs: wait }, `spot watcher: ${message}`);
          this.emit('warning', { provider: this.provider, message, failures, retryInMs: wait });
          ok = false;
        }
        this.emit('poll', { count, ok });
        if (this.opts.maxPolls !== undefined && count >= this.opts.maxPolls) break;
        await sleep(wait, signal);
      }
    } finally {
      this.emit('stopped');
    }
  }
}
