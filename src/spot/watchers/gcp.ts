// GCP metadata server: GET /computeMetadata/v1/instance/preempted with
// `Metadata-Flavor: Google` answers TRUE or FALSE. The first call reads the value and
// its ETag; later calls long-poll with ?wait_for_change=true&last_etag=E&timeout_sec=T,
// which the server holds until the value changes (or T runs out). A reply without the
// `Metadata-Flavor: Google` header did not come from the metadata server and is
// refused. GCP gives 30 s between the preemption signal and the stop.
import { httpRequest } from './http-get';
import { PollingWatcher, pollOptions, type PollOptions } from './poll-loop';

export const GCP_METADATA_ENDPOINT = 'http://metadata.google.internal';
export const GCP_NOTICE_MS = 30_000;

export interface GcpWatcherOptions extends Partial<PollOptions> {
  /** Server-side hold of one long-poll, seconds (the request timeout adds requestTimeoutMs). */
  waitTimeoutSec?: number;
  /** Least time between two polls, so a server that ignores wait_for_change is not hammered. */
  minGapMs?: number;
  noticeMs?: number;
}

export class GcpWatcher extends PollingWatcher {
  readonly provider = 'gcp' as const;
  private etag?: string;
  private readonly waitTimeoutSec: number;
  private readonly minGapMs: number;
  private readonly noticeMs: number;
  private preempted = false;

  constructor(o: GcpWatcherOptions = {}) {
    super(pollOptions({ endpoint: GCP_METADATA_ENDPOINT, intervalMs: 1_000 }, o));
    this.waitTimeoutSec = o.waitTimeoutSec ?? 60;
    this.minGapMs = o.minGapMs ?? 1_000;
    this.noticeMs = o.noticeMs ?? GCP_NOTICE_MS;
  }

  protected async pollOnce(signal: AbortSignal): Promise<number> {
    const started = this.opts.now();
    const url = new URL('/computeMetadata/v1/instance/preempted', this.opts.endpoint);
    let timeoutMs = this.opts.requestTimeoutMs;
    if (this.etag !== undefined) {
      url.searchParams.set('wait_for_change', 'true');
      url.searchParams.set('last_etag', this.etag);
      url.searchParams.set('timeout_sec', String(this.waitTimeoutSec));
      timeoutMs += this.waitTimeoutSec * 1000;
    }
    const res = await httpRequest({ url: url.toString(), signal, timeoutMs, headers: { 'Metadata-Flavor': 'Google' } });
    if (res.headers['metadata-flavor'] !== 'Google') throw new Error('instance/preempted reply lacks Metadata-Flavor: Google');
    if (res.status !== 200) throw new Error(`instance/preempted answered HTTP ${res.status}`);
    const value = res.body.trim();
    if (value !== 'TRUE' && value !== 'FALSE') throw new Error(`instance/preempted: unexpected body ${JSON.stringify(value.slice(0, 40))}`);
    const etag = res.headers.etag;
    this.etag = typeof etag === 'string' && etag ? etag : undefined;
    const now = this.opts.now();
    if (value === 'TRUE' && !this.preempted) {
      this.report({
        provider: 'gcp', kind: 'preempt', deadline: new Date(now + this.noticeMs), observedAt: new Date(now),
        id: `gcp:preempted:${this.etag ?? now}`, raw: value,
      });
    }
    this.preempted = value === 'TRUE';
    // Long-polling is its own interval; without an ETag fall back to plain polling.
    const gap = this.etag !== undefined ? this.minGapMs - (now - started) : this.opts.intervalMs;
    return Math.max(0, gap);
  }
}
