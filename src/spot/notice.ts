// What a cloud says before it takes a spot/preemptible host away, in one typed shape
// for all providers, and the Watcher interface every provider's poller implements.
import { EventEmitter } from 'node:events';

export type ProviderKind = 'aws' | 'gcp' | 'azure';

/**
 * terminate/stop/hibernate: AWS `spot/instance-action` actions (Azure `Terminate`);
 * preempt: GCP preemption or an Azure `Preempt` event; rebalance: AWS's early
 * "elevated risk" recommendation, which comes with no fixed deadline.
 */
export type NoticeKind = 'terminate' | 'stop' | 'hibernate' | 'preempt' | 'rebalance';

export interface Notice {
  provider: ProviderKind;
  kind: NoticeKind;
  /** When the host is expected to be taken (for rebalance: a conservative estimate). */
  deadline: Date;
  /** When the watcher saw it. */
  observedAt: Date;
  /** A stable identity so one event is reported once (Azure EventId, AWS action+time...). */
  id: string;
  /** The provider's document, as received. */
  raw: unknown;
}

export interface WatcherWarning {
  provider: ProviderKind;
  message: string;
  /** Consecutive failed polls, 1 on the first. */
  failures: number;
  retryInMs: number;
}

/** Typed event map (puppeteer's EventEmitter style). */
export interface WatcherEvents {
  notice: [Notice];
  warning: [WatcherWarning];
  /** After every poll, ok or not; `count` counts polls since start. */
  poll: [{ count: number; ok: boolean }];
  stopped: [];
}

export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly ee = new EventEmitter();
  on<K extends keyof E & string>(event: K, fn: (...args: E[K]) => void): this {
    this.ee.on(event, fn as (...a: unknown[]) => void);
    return this;
  }
  off<K extends keyof E & string>(event: K, fn: (...args: E[K]) => void): this {
    this.ee.off(event, fn as (...a: unknown[]) => void);
    return this;
  }
  once<K extends keyof E & string>(event: K, fn: (...args: E[K]) => void): this {
    this.ee.once(event, fn as (...a: unknown[]) => void);
    return this;
  }
  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    this.ee.emit(event, ...args);
  }
}

export interface Watcher extends TypedEmitter<WatcherEvents> {
  readonly provider: ProviderKind;
  start(): void;
  /** Ends the loop, aborting an in-flight request; resolves when the loop has exited. */
  stop(): Promise<void>;
  /**
   * Tells the cloud the host is ready for the event (Azure `StartRequests`); a no-op
   * where the cloud has no such step. Call it only once evacuation is over.
   */
  acknowledge(notice: Notice): Promise<void>;
}
