// The three metadata watchers against loopback fakes: notices and deadlines, token
// refresh, every fault (401, 404, 500, held requests, garbage, refused connections),
// and a clean stop. Every loop is bounded by maxPolls and by the test timeout.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsWatcher } from '../../../src/spot/watchers/aws';
import { AzureWatcher } from '../../../src/spot/watchers/azure';
import { GcpWatcher } from '../../../src/spot/watchers/gcp';
import type { Notice, Watcher, WatcherWarning } from '../../../src/spot/notice';
import { FakeAws, FakeAzure, FakeGcp, preemptEvent } from './fake-metadata';

const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined } as never;
const fast = { intervalMs: 10, requestTimeoutMs: 300, backoffInitialMs: 5, backoffMaxMs: 20, maxPolls: 400, logger: quiet };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

async function started<T extends { listen(): Promise<T>; close(): Promise<void> }>(fake: T): Promise<T> {
  await fake.listen();
  cleanups.push(() => fake.close());
  return fake;
}
function watch<W extends Watcher>(w: W): { w: W; notices: Notice[]; warnings: WatcherWarning[] } {
  const notices: Notice[] = [];
  const warnings: WatcherWarning[] = [];
  w.on('notice', (n) => notices.push(n)).on('warning', (x) => warnings.push(x));
  cleanups.push(() => w.stop());
  w.start();
  return { w, notices, warnings };
}
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
function sockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
}
/** A port nobody listens on (listen, note, close). */
async function deadPort(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe('AWS IMDSv2 watcher', () => {
  it('reports spot/instance-action with the action time as deadline, once', async () => {
    const fake = await started(new FakeAws());
    fake.instanceAction = { action: 'terminate', time: '2017-09-18T08:22:00Z' };
    const { notices } = watch(new AwsWatcher({ ...fast, endpoint: fake.url }));
    await until(() => fake.requests.length >= 9);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ provider: 'aws', kind: 'terminate' });
    expect(notices[0]!.deadline.toISOString()).toBe('2017-09-18T08:22:00.000Z');
    expect(fake.tokenPuts).toBe(1);
    const get = fake.requests.find((r) => r.url.endsWith('instance-action'))!;
    expect(get.headers['x-aws-ec2-metadata-token']).toMatch(/^AQAEA-fake-/);
    expect(fake.requests[0]!.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('21600');
  });

  it('reports stop and hibernate, and a rebalance recommendation with a 2-minute horizon', async () => {
    const fake = await started(new FakeAws());
    const now = Date.parse('2024-01-01T00:00:00Z');
    const { notices } = watch(new AwsWatcher({ ...fast, endpoint: fake.url, now: () => now }));
    fake.now = () => now;
    fake.rebalance = { noticeTime: '2024-01-01T00:00:10Z' };
    await until(() => notices.length === 1);
    expect(notices[0]!.kind).toBe('rebalance');
    expect(notices[0]!.deadline.toISOString()).toBe('2024-01-01T00:02:10.000Z');
    fake.instanceAction = { action: 'hibernate', time: '2024-01-01T00:02:00Z' };
    await until(() => notices.length === 2);
    expect(notices[1]!.kind).toBe('hibernate');
    fake.instanceAction = { action: 'stop', time: '2024-01-01T00:03:00Z' };
    await until(() => notices.length === 3);
    expect(notices[2]!.kind).toBe('stop');
  });

  it('renews the token before its TTL runs out', async () => {
    let now = 1_000_000;
    const fake = await started(new FakeAws());
    fake.now = () => now;
    watch(new AwsWatcher({ ...fast, endpoint: fake.url, now: () => now, tokenTtlSeconds: 120, tokenRefreshMarginMs: 30_000 }));
    await until(() => fake.requests.length >= 5);
    expect(fake.tokenPuts).toBe(1);
    now += 91_000; // past TTL − margin, before expiry
    await until(() => fake.tokenPuts === 2);
    expect(fake.unauthorized).toBe(0);
    expect(fake.requests.filter((r) => r.url === '/latest/api/token').at(-1)!.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('120');
  });

  it('renews the token on 401 without a warning', async () => {
    const fake = await started(new FakeAws());
    const { warnings } = watch(new AwsWatcher({ ...fast, endpoint: fake.url }));
    await until(() => fake.requests.length >= 3);
    fake.expireTokens();
    await until(() => fake.tokenPuts === 2);
    fake.instanceAction = { action: 'terminate', time: '2030-01-01T00:00:00Z' };
    await until(() => fake.requests.length >= 20);
    expect(fake.unauthorized).toBeGreaterThanOrEqual(1);
    expect(warnings).toEqual([]);
  });

  it('survives 500, garbage, held requests, 401 storms and refusals, then still reports', async () => {
    const fake = await started(new FakeAws());
    const { notices, warnings } = watch(new AwsWatcher({ ...fast, endpoint: fake.url, requestTimeoutMs: 100 }));
    await until(() => fake.tokenPuts === 1);
    fake.inject('http500', 2);
    await until(() => warnings.length >= 1);
    fake.instanceAction = { action: 'terminate', time: '2030-01-01T00:00:00Z' };
    fake.inject('garbage', 2);
    await until(() => warnings.some((w) => /not JSON|not a token/.test(w.message)));
    fake.inject('hang', 1);
    await until(() => warnings.some((w) => /no reply within 100 ms/.test(w.message)));
    fake.inject('unauthorized', 3);
    await until(() => warnings.some((w) => /401/.test(w.message)));
    await until(() => notices.length === 1);
    expect(notices[0]!.kind).toBe('terminate');
    // backs off exponentially, capped
    expect(Math.max(...warnings.map((w) => w.retryInMs))).toBeLessThanOrEqual(20);
  });

  it('keeps trying against a refused endpoint, with back-off', async () => {
    const { warnings } = watch(new AwsWatcher({ ...fast, endpoint: await deadPort(), maxPolls: 4 }));
    await until(() => warnings.length === 4);
    expect(warnings[0]!.message).toMatch(/ECONNREFUSED/);
    expect(warnings.map((w) => w.retryInMs)).toEqual([5, 10, 20, 20]);
  });

  it('stops at once while a request is held, leaving no socket behind', async () => {
    const before = sockets();
    const fake = new FakeAws();
    await fake.listen();
    fake.inject('hang', Infinity);
    const w = new AwsWatcher({ ...fast, endpoint: fake.url, requestTimeoutMs: 10_000 });
    w.start();
    await until(() => fake.requests.length === 1);
    const t = Date.now();
    await w.stop();
    expect(Date.now() - t).toBeLessThan(500);
    await fake.close();
    await until(() => sockets() <= before);
  });

  it('honours maxPolls', async () => {
    const fake = await started(new FakeAws());
    const w = new AwsWatcher({ ...fast, endpoint: fake.url, maxPolls: 3 });
    const stopped = new Promise<void>((r) => w.once('stopped', r));
    w.start();
    await stopped;
    expect(fake.requests.filter((r) => r.url.endsWith('instance-action'))).toHaveLength(3);
  });
});

describe('GCP watcher', () => {
  it('long-polls instance/preempted and reports TRUE with a 30 s deadline', async () => {
    const fake = await started(new FakeGcp());
    const now = Date.parse('2024-05-01T12:00:00Z');
    const { notices } = watch(new GcpWatcher({ ...fast, endpoint: fake.url, now: () => now, minGapMs: 0, waitTimeoutSec: 5 }));
    await until(() => fake.requests.length === 2); // the read, then a held long-poll
    expect(fake.requests[1]!.url).toMatch(/wait_for_change=true&last_etag=1&timeout_sec=5/);
    expect(fake.requests[0]!.headers['metadata-flavor']).toBe('Google');
    fake.setPreempted(true);
    await until(() => notices.length === 1, 1000);
    expect(notices[0]).toMatchObject({ provider: 'gcp', kind: 'preempt' });
    expect(notices[0]!.deadline.toISOString()).toBe('2024-05-01T12:00:30.000Z');
  });

  it('refuses replies without Metadata-Flavor: Google and survives faults', async () => {
    const fake = await started(new FakeGcp());
    const { notices, warnings } = watch(new GcpWatcher({ ...fast, endpoint: fake.url, minGapMs: 0, waitTimeoutSec: 1, requestTimeoutMs: 100 }));
    fake.noFlavorNext = true;
    await until(() => warnings.length === 1);
    expect(warnings[0]!.message).toMatch(/Metadata-Flavor/);
    fake.inject('garbage', 1);
    fake.setPreempted(false);
    await until(() => warnings.some((w) => /unexpected body/.test(w.message)));
    fake.inject('http500', 1);
    await until(() => warnings.some((w) => /HTTP 500/.test(w.message)));
    fake.inject('hang', 1);
    await until(() => warnings.some((w) => /no reply within/.test(w.message)), 5000);
    fake.setPreempted(true);
    await until(() => notices.length === 1, 5000);
    expect(fake.forbidden).toBe(0);
  });

  it('stops during a long-poll at once', async () => {
    const fake = await started(new FakeGcp());
    const w = new GcpWatcher({ ...fast, endpoint: fake.url, waitTimeoutSec: 60 });
    w.start();
    await until(() => fake.requests.length === 2);
    const t = Date.now();
    await w.stop();
    expect(Date.now() - t).toBeLessThan(500);
  });
});

describe('Azure Scheduled Events watcher', () => {
  it('reports a Preempt event with NotBefore as deadline, once, and ignores other events', async () => {
    const fake = await started(new FakeAzure());
    const nb = new Date('2016-09-19T18:29:47Z');
    fake.setEvents([{ ...preemptEvent('A1', nb), EventType: 'Freeze', EventId: 'F1' }, preemptEvent('A2', nb)]);
    const { notices } = watch(new AzureWatcher({ ...fast, endpoint: fake.url }));
    await until(() => fake.requests.length >= 5);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ provider: 'azure', kind: 'preempt', id: 'azure:A2' });
    expect(notices[0]!.deadline.toISOString()).toBe('2016-09-19T18:29:47.000Z');
    expect(fake.requests[0]!.url).toBe('/metadata/scheduledevents?api-version=2020-07-01');
    expect(fake.requests[0]!.headers.metadata).toBe('true');
  });

  it('acknowledges with StartRequests', async () => {
    const fake = await started(new FakeAzure());
    fake.setEvents([preemptEvent('E9', '')]);
    const now = 5_000_000;
    const { w, notices } = watch(new AzureWatcher({ ...fast, endpoint: fake.url, now: () => now }));
    await until(() => notices.length === 1);
    expect(notices[0]!.deadline.getTime()).toBe(now); // started already
    await w.acknowledge(notices[0]!);
    expect(fake.acks).toEqual(['E9']);
    const post = fake.requests.find((r) => r.method === 'POST')!;
    expect(JSON.parse(post.body)).toEqual({ StartRequests: [{ EventId: 'E9' }] });
    expect(fake.events).toEqual([]);
  });

  it('survives garbage, 500, held requests and refusals', async () => {
    const fake = await started(new FakeAzure());
    const { notices, warnings } = watch(new AzureWatcher({ ...fast, endpoint: fake.url, requestTimeoutMs: 100 }));
    fake.inject('garbage', 1);
    await until(() => warnings.length === 1);
    fake.inject('http500', 1);
    await until(() => warnings.length === 2);
    fake.inject('hang', 1);
    await until(() => warnings.length === 3);
    fake.setEvents([{ DocumentIncarnation: 'x' }]);
    fake.setEvents([preemptEvent('Z', new Date(Date.now() + 30_000))]);
    await until(() => notices.length === 1);
    expect(warnings.map((w) => w.message)).toEqual([
      'scheduledevents: reply is not JSON', 'scheduledevents answered HTTP 500', 'no reply within 100 ms']);
    const refused = watch(new AzureWatcher({ ...fast, endpoint: await deadPort(), maxPolls: 2 }));
    await until(() => refused.warnings.length === 2);
  });
});
