// Azure Scheduled Events: GET /metadata/scheduledevents?api-version=2020-07-01 with
// `Metadata: true` → {"DocumentIncarnation":n,"Events":[{"EventId","EventType",
// "ResourceType","Resources","EventStatus","NotBefore","Description","EventSource",
// "DurationInSeconds"}]}. `Preempt` (spot eviction, as little as 30 s) and `Terminate`
// are notices; NotBefore is an RFC 1123 date, empty once the event has started.
// Acknowledging (after evacuation) POSTs {"StartRequests":[{"EventId":...}]}.
import type { Notice, NoticeKind } from '../notice';
import { httpRequest, type HttpResponse } from './http-get';
import { PollingWatcher, pollOptions, type PollOptions } from './poll-loop';

export const AZURE_METADATA_ENDPOINT = 'http://169.254.169.254';
export const AZURE_EVENTS_PATH = '/metadata/scheduledevents?api-version=2020-07-01';

const KINDS: Record<string, NoticeKind> = { Preempt: 'preempt', Terminate: 'terminate' };

export class AzureWatcher extends PollingWatcher {
  readonly provider = 'azure' as const;
  /** Last DocumentIncarnation seen. */
  incarnation?: number;

  constructor(o: Partial<PollOptions> = {}) {
    super(pollOptions({ endpoint: AZURE_METADATA_ENDPOINT, intervalMs: 1_000 }, o));
  }

  private url(): string {
    return new URL(AZURE_EVENTS_PATH, this.opts.endpoint).toString();
  }

  protected async pollOnce(signal: AbortSignal): Promise<void> {
    const res = await httpRequest({ url: this.url(), signal, timeoutMs: this.opts.requestTimeoutMs, headers: { Metadata: 'true' } });
    const doc = parseScheduledEvents(res, this.opts.now());
    this.incarnation = doc.incarnation;
    for (const n of doc.notices) this.report(n);
  }

  override async acknowledge(notice: Notice): Promise<void> {
    if (notice.provider !== 'azure') return;
    const eventId = (notice.raw as { EventId?: unknown }).EventId;
    const res = await httpRequest({
      url: this.url(), method: 'POST', timeoutMs: this.opts.requestTimeoutMs,
      headers: { Metadata: 'true', 'Content-Type': 'application/json' },
      body: JSON.stringify({ StartRequests: [{ EventId: eventId }] }),
    });
    if (res.status !== 200) throw new Error(`scheduledevents acknowledgement answered HTTP ${res.status}`);
  }
}

export function parseScheduledEvents(res: HttpResponse, now: number): { incarnation: number; notices: Notice[] } {
  if (res.status !== 200) throw new Error(`scheduledevents answered HTTP ${res.status}`);
  let doc: unknown;
  try { doc = JSON.parse(res.body); } catch { throw new Error('scheduledevents: reply is not JSON'); }
  const d = doc as { DocumentIncarnation?: unknown; Events?: unknown };
  if (typeof d !== 'object' || d === null || typeof d.DocumentIncarnation !== 'number' || !Array.isArray(d.Events)) {
    throw new Error('scheduledevents: reply lacks DocumentIncarnation or Events');
  }
  const notices: Notice[] = [];
  for (const e of d.Events as Array<Record<string, unknown>>) {
    const kind = typeof e?.EventType === 'string' ? KINDS[e.EventType] : undefined;
    if (!kind) continue;
    if (typeof e.EventId !== 'string' || !e.EventId) throw new Error('scheduledevents: event without EventId');
    const nb = e.NotBefore;
    let deadline: number;
    if (nb === undefined || nb === '') deadline = now; // already started
    else {
      deadline = typeof nb === 'string' ? Date.parse(nb) : NaN;
      if (Number.isNaN(deadline)) throw new Error(`scheduledevents: bad NotBefore ${JSON.stringify(nb)}`);
    }
    notices.push({ provider: 'azure', kind, deadline: new Date(deadline), observedAt: new Date(now), id: `azure:${e.EventId}`, raw: e });
  }
  return { incarnation: d.DocumentIncarnation, notices };
}
