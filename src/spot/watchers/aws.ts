// AWS EC2 instance metadata (IMDSv2): a session token from PUT /latest/api/token
// (X-aws-ec2-metadata-token-ttl-seconds), refreshed before its TTL runs out and on any
// 401; then GET spot/instance-action (404: none; {"action","time"}: the host is
// taken at `time`, about 2 minutes on) and events/recommendations/rebalance (404 or
// {"noticeTime"}). AWS advises polling every 5 s.
import type { Notice, NoticeKind } from '../notice';
import { httpRequest, type HttpResponse } from './http-get';
import { PollingWatcher, pollOptions, type PollOptions } from './poll-loop';

export const AWS_METADATA_ENDPOINT = 'http://169.254.169.254';

export interface AwsWatcherOptions extends Partial<PollOptions> {
  /** Token lifetime asked for, 1–21600 s. */
  tokenTtlSeconds?: number;
  /** Renew the token this long before it expires (capped at half the TTL). */
  tokenRefreshMarginMs?: number;
  /** A rebalance recommendation has no deadline: assume the 2-minute notice may follow at once. */
  rebalanceHorizonMs?: number;
}

const ACTIONS: ReadonlySet<string> = new Set(['terminate', 'stop', 'hibernate']);

export class AwsWatcher extends PollingWatcher {
  readonly provider = 'aws' as const;
  private token?: { value: string; renewAt: number };
  private readonly ttlSeconds: number;
  private readonly marginMs: number;
  private readonly rebalanceHorizonMs: number;
  /** Tokens fetched since start (for metrics and tests). */
  tokensFetched = 0;

  constructor(o: AwsWatcherOptions = {}) {
    super(pollOptions({ endpoint: AWS_METADATA_ENDPOINT, intervalMs: 5_000 }, o));
    this.ttlSeconds = o.tokenTtlSeconds ?? 21_600;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1 || this.ttlSeconds > 21_600) {
      throw new RangeError(`tokenTtlSeconds must be an integer in 1..21600, not ${this.ttlSeconds}`);
    }
    this.marginMs = Math.min(o.tokenRefreshMarginMs ?? 60_000, (this.ttlSeconds * 1000) / 2);
    this.rebalanceHorizonMs = o.rebalanceHorizonMs ?? 120_000;
  }

  private url(path: string): string {
    return new URL(path, this.opts.endpoint).toString();
  }

  private async tokenValue(signal: AbortSignal): Promise<string> {
    if (this.token && this.opts.now() < this.token.renewAt) return this.token.value;
    this.token = undefined;
    const res = await httpRequest({
      url: this.url('/latest/api/token'), method: 'PUT', signal, timeoutMs: this.opts.requestTimeoutMs,
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(this.ttlSeconds) },
    });
    const value = res.body.trim();
    if (res.status !== 200) throw new Error(`IMDS token request answered HTTP ${res.status}`);
    if (!/^[\x21-\x7e]{1,1024}$/.test(value)) throw new Error('IMDS token reply is not a token');
    this.tokensFetched++;
    this.token = { value, renewAt: this.opts.now() + this.ttlSeconds * 1000 - this.marginMs };
    return value;
  }

  /** GET with the token; on 401 the token is dropped, renewed and the GET retried once. */
  private async get(path: string, signal: AbortSignal): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.tokenValue(signal);
      const res = await httpRequest({ url: this.url(path), signal, timeoutMs: this.opts.requestTimeoutMs, headers: { 'X-aws-ec2-metadata-token': token } });
      if (res.status !== 401) return res;
      this.token = undefined;
      if (attempt >= 1) throw new Error(`IMDS answered 401 to ${path} with a fresh token`);
    }
  }

  protected async pollOnce(signal: AbortSignal): Promise<void> {
    const action = await this.get('/latest/meta-data/spot/instance-action', signal);
    const n = parseInstanceAction(action, this.opts.now());
    if (n) this.report(n);
    const rebalance = await this.get('/latest/meta-data/events/recommendations/rebalance', signal);
    const r = parseRebalance(rebalance, this.opts.now(), this.rebalanceHorizonMs);
    if (r) this.report(r);
  }
}

function parseJson(body: string, what: string): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(body); } catch { throw new Error(`${what}: reply is not JSON`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: reply is not a JSON object`);
  return v as Record<string, unknown>;
}

function parseTime(v: unknown, what: string): Date {
  const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new Error(`${what}: bad time ${JSON.stringify(v)}`);
  return d;
}

/** undefined for 404 (no action pending); throws on anything else that is not the documented JSON. */
export function parseInstanceAction(res: HttpResponse, now: number): Notice | undefined {
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`spot/instance-action answered HTTP ${res.status}`);
  const o = parseJson(res.body, 'spot/instance-action');
  if (typeof o.action !== 'string' || !ACTIONS.has(o.action)) throw new Error(`spot/instance-action: unknown action ${JSON.stringify(o.action)}`);
  const deadline = parseTime(o.time, 'spot/instance-action');
  return { provider: 'aws', kind: o.action as NoticeKind, deadline, observedAt: new Date(now), id: `aws:${o.action}:${deadline.toISOString()}`, raw: o };
}

export function parseRebalance(res: HttpResponse, now: number, horizonMs: number): Notice | undefined {
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`events/recommendations/rebalance answered HTTP ${res.status}`);
  const o = parseJson(res.body, 'events/recommendations/rebalance');
  const noticeTime = parseTime(o.noticeTime, 'events/recommendations/rebalance');
  return {
    provider: 'aws', kind: 'rebalance', deadline: new Date(Math.max(noticeTime.getTime(), now) + horizonMs),
    observedAt: new Date(now), id: `aws:rebalance:${noticeTime.toISOString()}`, raw: o,
  };
}
