// The spot daemon end to end on loopback: a fake metadata server raises a notice, the
// daemon plans and evacuates through a Migrator. The Migrator here is a test double
// that records calls: live migration is not built yet (the lead implements Migrator
// with it later), so these tests check the daemon's decisions, fallbacks and reports.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SpotDaemon } from '../../../src/spot/daemon';
import { validateDaemonConfig, type DaemonConfig } from '../../../src/spot/config';
import { StaticPeers, EtcdPeers, prefixEnd } from '../../../src/spot/peer-source';
import type { Migrator, MigrationReport } from '../../../src/spot/migrator';
import type { PeerView } from '../../../src/spot/policy/peers';
import type { ContainerLoad } from '../../../src/spot/policy/evacuation';
import { AwsWatcher } from '../../../src/spot/watchers/aws';
import { AzureWatcher } from '../../../src/spot/watchers/azure';
import { FakeAws, FakeAzure, preemptEvent } from './fake-metadata';

const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined, error: () => undefined } as never;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

class RecordingMigrator implements Migrator {
  calls: Array<{ op: 'migrate' | 'checkpointTo'; id: string; peer: string; bandwidth?: number }> = [];
  refuseLive = new Set<string>();
  deadPeers = new Set<string>();
  delayMs = 0;
  onCall?: () => void;
  private async act(op: 'migrate' | 'checkpointTo', id: string, peer: PeerView, bandwidth?: number): Promise<MigrationReport> {
    this.calls.push({ op, id, peer: peer.name, bandwidth });
    this.onCall?.();
    const t = new Date();
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.deadPeers.has(peer.name)) throw new Error(`connect ECONNREFUSED ${peer.address}`);
    if (op === 'migrate' && this.refuseLive.has(peer.name)) throw new Error('peer refused: host directory bind mount');
    return { containerId: id, peer: peer.name, path: op === 'migrate' ? 'live' : 'checkpoint-to-peer', startedAt: t, finishedAt: new Date() };
  }
  migrate(id: string, peer: PeerView, o: { bandwidthMiBps: number }) { return this.act('migrate', id, peer, o.bandwidthMiBps); }
  checkpointTo(id: string, peer: PeerView) { return this.act('checkpointTo', id, peer); }
}

const containers: ContainerLoad[] = Array.from({ length: 8 }, (_, i) => ({ id: `c${i}`, memoryMiB: 256, dirtyRateMiBps: 1 }));

function config(over: Partial<DaemonConfig> = {}): DaemonConfig {
  return validateDaemonConfig({
    listen: '127.0.0.1:7070', tokenFile: '/nonexistent', provider: { kind: 'aws' }, market: 'spot', price: 0.03,
    peers: [
      { name: 'b', address: '127.0.0.2:7070', market: 'on-demand', price: 0.096 },
      { name: 'c', address: '127.0.0.3:7070', market: 'on-demand', price: 0.1 },
    ],
    metrics: { listen: '127.0.0.1:0' }, policy: { linkMiBps: 1000, safetySeconds: 2 },
    ...over,
  });
}

async function daemonWith(cfg: DaemonConfig, migrator: Migrator, watcher?: AwsWatcher | AzureWatcher) {
  const d = new SpotDaemon(cfg, { migrator, containers: { list: async () => containers }, peers: new StaticPeers(cfg.peers ?? []), watcher, logger: quiet });
  const { metrics } = await d.start();
  cleanups.push(() => d.stop());
  return { d, metrics: metrics! };
}

function get(url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; }).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    r.on('error', reject).end();
  });
}
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) throw new Error('condition not met in time'); await new Promise((r) => setTimeout(r, 5)); }
}

describe('spot daemon', () => {
  it('evacuates every container live on an AWS notice, before the deadline, and reports it in metrics', async () => {
    const fake = new FakeAws();
    await fake.listen();
    cleanups.push(() => fake.close());
    const watcher = new AwsWatcher({ endpoint: fake.url, intervalMs: 10, requestTimeoutMs: 300, maxPolls: 500, logger: quiet });
    const m = new RecordingMigrator();
    const { d, metrics } = await daemonWith(config(), m, watcher);
    const deadline = new Date(Date.now() + 120_000);
    fake.instanceAction = { action: 'terminate', time: deadline.toISOString() };
    await until(() => d.reports.length === 1);
    const r = d.reports[0]!;
    expect(r.outcomes).toHaveLength(8);
    expect(r.outcomes.every((o) => o.path === 'live' && o.peer === 'b' && o.withinDeadline)).toBe(true);
    expect(m.calls.every((c) => c.op === 'migrate' && c.bandwidth === 1000)).toBe(true);
    const text = (await get(`http://${metrics}/metrics`)).body;
    expect(text).toContain('runx_spot_notices_total{provider="aws",kind="terminate"} 1');
    expect(text).toContain('runx_spot_container_moves_total{path="live"} 8');
    expect(text).toMatch(/# TYPE runx_spot_up gauge\nrunx_spot_up 1/);
    const status = JSON.parse((await get(`http://${metrics}/status`)).body);
    expect(status).toMatchObject({ provider: 'aws', evacuations: 1, evacuating: false });
  });

  it('falls back to checkpoint-to-peer when a peer refuses, and away from a dead peer', async () => {
    const m = new RecordingMigrator();
    m.refuseLive.add('b');
    const { d } = await daemonWith(config({ provider: { kind: 'none' } }), m);
    const r = await d.evacuate('test', Date.now() + 120_000);
    // b refused the first live migration: it checkpoints there... b is then avoided, c takes the rest live
    expect(r.outcomes.map((o) => o.path)).not.toContain('failed');
    const first = r.outcomes[0]!;
    expect(first.errors[0]).toMatch(/live migration to b: peer refused/);
    expect(first.path).toBe('checkpoint-to-peer');

    const m2 = new RecordingMigrator();
    m2.deadPeers.add('b');
    const { d: d2 } = await daemonWith(config({ provider: { kind: 'none' }, metrics: {} }), m2);
    const r2 = await d2.evacuate('test', Date.now() + 120_000);
    expect(r2.outcomes.every((o) => o.path === 'checkpoint-to-peer' && o.peer === 'c')).toBe(true);
    expect(m2.calls.filter((c) => c.peer === 'b')).toHaveLength(1); // tried once, then avoided
  });

  it('reports failed (never silently lost) when every peer is dead', async () => {
    const m = new RecordingMigrator();
    m.deadPeers.add('b'); m.deadPeers.add('c');
    const { d } = await daemonWith(config({ provider: { kind: 'none' }, metrics: {} }), m);
    const r = await d.evacuate('test', Date.now() + 120_000);
    expect(r.outcomes.map((o) => o.path)).toEqual(Array(8).fill('failed'));
    expect(d.metrics.get('runx_spot_container_moves_total', { path: 'failed' })).toBe(8);
  });

  it('switches not-yet-started live moves to checkpoints when a second notice brings the deadline in', async () => {
    const m = new RecordingMigrator();
    m.delayMs = 20;
    const slow = config({ provider: { kind: 'none' }, metrics: {}, policy: { linkMiBps: 30, safetySeconds: 0 } });
    const { d } = await daemonWith(slow, m);
    let first = true;
    m.onCall = () => {
      if (!first) return;
      first = false;
      // a notice during the first migration: 40 s left, not enough for 7 more live moves at 30 MiB/s
      void d.evacuate('second notice', Date.now() + 40_000);
    };
    const r = await d.evacuate('first notice', Date.now() + 300_000);
    expect(r.deadline).not.toBe(undefined);
    const paths = r.outcomes.map((o) => o.path);
    expect(paths[0]).toBe('live');
    expect(paths.filter((p) => p === 'checkpoint-to-peer').length).toBeGreaterThan(0);
    expect(r.outcomes.find((o) => o.path === 'checkpoint-to-peer')!.errors[0]).toMatch(/deadline moved earlier/);
  });

  it('does not move a container twice when a notice arrives while a migration is running', async () => {
    const fake = new FakeAws();
    await fake.listen();
    cleanups.push(() => fake.close());
    const watcher = new AwsWatcher({ endpoint: fake.url, intervalMs: 10, requestTimeoutMs: 300, maxPolls: 2000, logger: quiet });
    const m = new RecordingMigrator();
    m.delayMs = 30;
    const { d } = await daemonWith(config({ metrics: {} }), m, watcher);
    let first = true;
    m.onCall = () => {
      if (!first) return;
      first = false;
      // The reclaim notice shows up while the operator's evacuation is moving its first container.
      fake.instanceAction = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() };
    };
    const operatorDeadline = Date.now() + 600_000;
    const r = await d.evacuate('operator evacuate', operatorDeadline);
    // The notice reached the running evacuation: its earlier deadline became the run's.
    expect(Date.parse(r.deadline)).toBeLessThan(operatorDeadline - 400_000);
    await until(() => d.metrics.get('runx_spot_notices_total', { provider: 'aws', kind: 'terminate' }) === 1);
    // Give the watcher time to poll the same notice again: it must not start another evacuation.
    await new Promise((res) => setTimeout(res, 300));
    expect(r.outcomes).toHaveLength(8);
    expect(r.outcomes.every((o) => o.path === 'live' && o.withinDeadline)).toBe(true);
    const ids = m.calls.map((c) => c.id);
    expect(ids).toHaveLength(8);
    expect(new Set(ids).size).toBe(8);
    expect(d.reports).toHaveLength(1);
    expect(d.status()).toMatchObject({ evacuations: 1, evacuating: false });
  });

  it('acknowledges an Azure Preempt event after evacuating', async () => {
    const fake = new FakeAzure();
    await fake.listen();
    cleanups.push(() => fake.close());
    const watcher = new AzureWatcher({ endpoint: fake.url, intervalMs: 10, requestTimeoutMs: 300, maxPolls: 500, logger: quiet });
    const { d } = await daemonWith(config({ provider: { kind: 'azure' }, metrics: {} }), new RecordingMigrator(), watcher);
    fake.setEvents([preemptEvent('EV1', new Date(Date.now() + 30_000))]);
    await until(() => fake.acks.length === 1);
    expect(fake.acks).toEqual(['EV1']);
    expect(d.reports[0]!.outcomes).toHaveLength(8);
  });

  it('keeps running on garbage from the metadata endpoint and counts the errors', async () => {
    const fake = new FakeAws();
    await fake.listen();
    cleanups.push(() => fake.close());
    fake.inject('garbage', 5);
    const watcher = new AwsWatcher({ endpoint: fake.url, intervalMs: 10, requestTimeoutMs: 300, backoffInitialMs: 5, backoffMaxMs: 10, maxPolls: 500, logger: quiet });
    const { d } = await daemonWith(config({ metrics: {} }), new RecordingMigrator(), watcher);
    await until(() => (d.metrics.get('runx_spot_watcher_errors_total', { provider: 'aws' }) ?? 0) >= 2);
    fake.instanceAction = { action: 'stop', time: new Date(Date.now() + 120_000).toISOString() };
    await until(() => d.reports.length === 1);
  });

  it('needs the token for POST /evacuate; serves /plan and /containers', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-d-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true }));
    fs.writeFileSync(path.join(dir, 'token'), 's3cret\n');
    const { metrics } = await daemonWith(config({ provider: { kind: 'none' }, tokenFile: path.join(dir, 'token') }), new RecordingMigrator());
    expect((await get(`http://${metrics}/evacuate`, { method: 'POST' })).status).toBe(401);
    expect((await get(`http://${metrics}/evacuate`, { method: 'POST', headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const ok = await get(`http://${metrics}/evacuate`, { method: 'POST', headers: { authorization: 'Bearer s3cret' } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).outcomes).toHaveLength(8);
    const plan = JSON.parse((await get(`http://${metrics}/plan`)).body);
    expect(plan.steps).toHaveLength(8);
    expect(JSON.parse((await get(`http://${metrics}/containers`)).body)).toHaveLength(8);
    expect((await get(`http://${metrics}/nope`)).status).toBe(404);
  });

  it('leaves spot on a price spike from the price history file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-d-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true }));
    const now = Date.parse('2024-01-02T00:00:00Z');
    const file = path.join(dir, 'prices.csv');
    fs.writeFileSync(file, '2024-01-01T00:00:00Z,us-east-1a,m5.large,0.02\n2024-01-01T23:50:00Z,us-east-1a,m5.large,0.06\n');
    const m = new RecordingMigrator();
    const cfg = config({ provider: { kind: 'none' }, metrics: {}, policy: { priceHistoryFile: file, onDemandPrice: 0.096, linkMiBps: 1000 } });
    cfg.peers!.push({ name: 's', address: '127.0.0.4:7070', market: 'spot', price: 0.01 });
    const d = new SpotDaemon(cfg, { migrator: m, containers: { list: async () => containers }, peers: new StaticPeers(cfg.peers!), logger: quiet, now: () => now });
    cleanups.push(() => d.stop());
    expect(await d.evaluate()).toBe('leave-spot');
    expect(new Set(m.calls.map((c) => c.peer))).toEqual(new Set(['b'])); // on-demand peers only
    expect(d.metrics.get('runx_spot_risk_score')).toBeGreaterThan(0.4);
  });
});

describe('etcd peers', () => {
  it('reads peers under a prefix through the v3 JSON gateway and keeps the last list on failure', async () => {
    let fail = false;
    let seen: { key: string; range_end: string } | undefined;
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; }).on('end', () => {
        if (fail) { res.writeHead(503).end(); return; }
        seen = JSON.parse(body);
        const kv = (k: string, v: unknown) => ({ key: Buffer.from(k).toString('base64'), value: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64') });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kvs: [
          kv('/runx/peers/b', { name: 'b', address: '10.0.0.2:7070', market: 'on-demand', price: 0.096 }), kv('/runx/peers/junk', 'not json') ] }));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
    const warns: string[] = [];
    const src = new EtcdPeers([`http://127.0.0.1:${(srv.address() as { port: number }).port}`], '/runx/peers/', { warn: (_o: unknown, m?: string) => warns.push(String(m)) } as never);
    expect((await src.peers()).map((p) => p.name)).toEqual(['b']);
    expect(Buffer.from(seen!.key, 'base64').toString()).toBe('/runx/peers/');
    expect(Buffer.from(seen!.range_end, 'base64').toString()).toBe('/runx/peers0');
    fail = true;
    expect((await src.peers()).map((p) => p.name)).toEqual(['b']);
    expect(warns.some((w) => /HTTP 503/.test(w))).toBe(true);
    expect(prefixEnd('a')).toBe('b');
  });
});
