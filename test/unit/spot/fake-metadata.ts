// Fake cloud metadata servers on 127.0.0.1 (random port) for the watcher tests,
// following the documented formats (see shared/DESIGN.md "Spot signals"), with a
// control surface (plain fields and methods) for tests to set the state and to
// inject faults: 500s, garbage bodies, held requests (timeouts), expired tokens.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'none' | 'http500' | 'garbage' | 'hang' | 'unauthorized' | 'no-flavor';

abstract class FakeServer {
  readonly server: http.Server;
  url = '';
  /** Applied to the next N requests (then back to 'none'); Infinity for a standing fault. */
  fault: Fault = 'none';
  faultCount = 0;
  readonly requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  private held = new Set<http.ServerResponse>();

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const fault = this.takeFault();
        if (fault === 'hang') { this.hold(res); return; }
        if (fault === 'http500') { res.writeHead(500, this.baseHeaders()).end('internal error'); return; }
        if (fault === 'garbage') { res.writeHead(200, this.baseHeaders()).end('\u0000<html>not metadata}{'); return; }
        if (fault === 'unauthorized') { res.writeHead(401, this.baseHeaders()).end(); return; }
        this.handle(req, res, body, fault);
      });
    });
  }

  /** Sets a fault for the next `count` requests. */
  inject(fault: Fault, count = 1): void { this.fault = fault; this.faultCount = count; }

  private takeFault(): Fault {
    if (this.fault === 'none' || this.faultCount <= 0) return 'none';
    this.faultCount--;
    const f = this.fault;
    if (this.faultCount <= 0) this.fault = 'none';
    return f;
  }

  protected hold(res: http.ServerResponse): void {
    this.held.add(res);
    res.on('close', () => this.held.delete(res));
  }

  protected baseHeaders(): Record<string, string> { return {}; }
  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse, body: string, fault: Fault): void;

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** AWS IMDSv2. */
export class FakeAws extends FakeServer {
  /** token → expiry (ms since epoch, by `now`). */
  readonly tokens = new Map<string, number>();
  instanceAction: { action: string; time: string } | null = null;
  rebalance: { noticeTime: string } | null = null;
  now: () => number = Date.now;
  tokenPuts = 0;
  unauthorized = 0;
  private next = 0;

  /** Expires every token issued so far (the next GET gets 401). */
  expireTokens(): void { for (const k of this.tokens.keys()) this.tokens.set(k, 0); }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') { res.writeHead(405).end(); return; }
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) { res.writeHead(400).end(); return; }
      const token = `AQAEA-fake-${++this.next}`;
      this.tokens.set(token, this.now() + ttl * 1000);
      this.tokenPuts++;
      res.writeHead(200, { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) }).end(token);
      return;
    }
    const token = req.headers['x-aws-ec2-metadata-token'];
    const exp = typeof token === 'string' ? this.tokens.get(token) : undefined;
    if (exp === undefined || exp <= this.now()) { this.unauthorized++; res.writeHead(401).end(); return; }
    const json = (v: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    if (path === '/latest/meta-data/spot/instance-action') {
      if (this.instanceAction) json(this.instanceAction); else res.writeHead(404).end();
    } else if (path === '/latest/meta-data/events/recommendations/rebalance') {
      if (this.rebalance) json(this.rebalance); else res.writeHead(404).end();
    } else {
      res.writeHead(404).end();
    }
  }
}

/** GCP metadata server: instance/preempted with ETag and wait_for_change. */
export class FakeGcp extends FakeServer {
  private value: 'TRUE' | 'FALSE' = 'FALSE';
  private etag = 1;
  private waiters = new Set<() => void>();
  /** Reply to a bad header with 403, as the real server does. */
  forbidden = 0;

  protected override baseHeaders(): Record<string, string> { return { 'Metadata-Flavor': 'Google' }; }

  setPreempted(v: boolean): void {
    const nv = v ? 'TRUE' : 'FALSE';
    if (nv === this.value) return;
    this.value = nv;
    this.etag++;
    for (const w of [...this.waiters]) w();
  }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse, _body: string, _fault: Fault): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.headers['metadata-flavor'] !== 'Google') { this.forbidden++; res.writeHead(403, this.baseHeaders()).end(); return; }
    if (url.pathname !== '/computeMetadata/v1/instance/preempted') { res.writeHead(404, this.baseHeaders()).end(); return; }
    const send = () => {
      const headers: Record<string, string> = { 'content-type': 'application/text', etag: String(this.etag) };
      if (!this.noFlavorNext) Object.assign(headers, this.baseHeaders());
      this.noFlavorNext = false;
      res.writeHead(200, headers).end(this.value);
    };
    const last = url.searchParams.get('last_etag');
    if (url.searchParams.get('wait_for_change') === 'true' && (last === null || last === String(this.etag))) {
      const timeoutSec = Number(url.searchParams.get('timeout_sec') ?? '3600');
      const wake = () => { clearTimeout(t); this.waiters.delete(wake); if (!res.destroyed) send(); };
      const t = setTimeout(wake, timeoutSec * 1000);
      this.waiters.add(wake);
      res.on('close', () => { clearTimeout(t); this.waiters.delete(wake); });
      return;
    }
    send();
  }

  /** The next reply omits the Metadata-Flavor header (not the real metadata server). */
  noFlavorNext = false;
}

/** Azure Scheduled Events. */
export class FakeAzure extends FakeServer {
  incarnation = 1;
  events: Array<Record<string, unknown>> = [];
  readonly acks: string[] = [];

  setEvents(events: Array<Record<string, unknown>>): void { this.events = events; this.incarnation++; }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/metadata/scheduledevents') { res.writeHead(404).end(); return; }
    if (req.headers.metadata !== 'true') { res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"Bad request. Required metadata header not specified"}'); return; }
    if (!url.searchParams.get('api-version')) { res.writeHead(400).end(); return; }
    if (req.method === 'POST') {
      let ids: string[] = [];
      try { ids = (JSON.parse(body) as { StartRequests: Array<{ EventId: string }> }).StartRequests.map((s) => s.EventId); } catch { res.writeHead(400).end(); return; }
      this.acks.push(...ids);
      this.setEvents(this.events.filter((e) => !ids.includes(e.EventId as string)));
      res.writeHead(200).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ DocumentIncarnation: this.incarnation, Events: this.events }));
  }
}

export function preemptEvent(id: string, notBefore: Date | ''): Record<string, unknown> {
  return {
    EventId: id, EventType: 'Preempt', ResourceType: 'VirtualMachine', Resources: ['vm0'], EventStatus: 'Scheduled',
    NotBefore: notBefore === '' ? '' : notBefore.toUTCString(), Description: 'Spot eviction', EventSource: 'Platform', DurationInSeconds: -1,
  };
}
