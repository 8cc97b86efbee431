// End to end: a real etcd (Debian's etcd-server, on loopback only, its own data dir)
// as the spot daemon's shared peer registry, and a real `runx daemon` process
// configured with `etcd`. Peers are registered as the daemon's etcd source reads them
// (src/spot/peer-source.ts: one key per peer under the prefix, the value the peer as
// JSON), through etcd's v3 JSON gateway (POST /v3/kv/put, base64 keys and values).
// The daemon's HTTP GET /peers lists them; one registered later shows up; and when
// etcd is killed the daemon keeps its last known peers, logs a one-line warning, and
// keeps running.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port';
import { runxBin } from '../helpers/runx-bin';

const repo = path.resolve(__dirname, '../..');
const runx = runxBin(repo);
const prefix = '/runx/peers/';

function etcdBinary(): string | undefined {
  try { return execFileSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).trim() || undefined; } catch { return undefined; }
}
const etcdBin = etcdBinary();
if (!etcdBin) console.warn('skipping the etcd e2e test: no `etcd` on PATH (apt-get install etcd-server)');

let tmp = '';
let etcd: ChildProcess | undefined;
let daemon: ChildProcess | undefined;
let etcdUrl = '';
let metricsUrl = '';
let daemonLog = '';

async function until<T>(what: string, get: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (c?: ChildProcess) => !!c && c.exitCode === null && c.signalCode === null;
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

async function put(name: string, peer: unknown): Promise<void> {
  const res = await fetch(`${etcdUrl}/v3/kv/put`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: b64(`${prefix}${name}`), value: b64(JSON.stringify(peer)) }),
    signal: AbortSignal.timeout(5000),
  });
  expect(res.status).toBe(200);
}

async function daemonPeers(): Promise<Array<{ name: string; address: string; market: string; price: number }>> {
  const res = await fetch(`${metricsUrl}/peers`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET /peers: HTTP ${res.status}`);
  return (await res.json()) as Array<{ name: string; address: string; market: string; price: number }>;
}

const names = async () => (await daemonPeers()).map((p) => p.name).sort();

/** Exits (or is killed after `ms`); never waits unbounded. */
async function stop(c: ChildProcess | undefined, ms = 5000): Promise<void> {
  if (!c || !alive(c)) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const t = setTimeout(() => { if (alive(c)) c.kill('SIGKILL'); }, ms);
  await gone;
  clearTimeout(t);
}

describe.skipIf(!etcdBin)('spot daemon with etcd as its peer registry (real etcd, real daemon)', () => {
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-etcd-'));
    const [client, peer, listen, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
    etcdUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const etcdOut = fs.openSync(path.join(tmp, 'etcd.log'), 'w');
    etcd = spawn(etcdBin!, [
      '--name', 'default', '--data-dir', path.join(tmp, 'etcd-data'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `default=${peerUrl}`, '--initial-cluster-state', 'new',
    ], { stdio: ['ignore', etcdOut, etcdOut] });
    fs.closeSync(etcdOut);
    await until('etcd to answer on its client URL', async () => {
      if (!alive(etcd)) throw new Error(`etcd exited: ${fs.readFileSync(path.join(tmp, 'etcd.log'), 'utf8').slice(-2000)}`);
      const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200 && /"health":\s*"true"/.test(await res.text()) ? true : undefined;
    }, 30_000).catch((err) => { throw new Error(`${err}\n${fs.readFileSync(path.join(tmp, 'etcd.log'), 'utf8').slice(-2000)}`); });

    await put('b', { name: 'b', address: '127.0.0.1:7071', market: 'on-demand', price: 0.096 });
    await put('c', { name: 'c', address: '127.0.0.1:7072', market: 'spot', price: 0.031 });

    const token = path.join(tmp, 'token');
    fs.writeFileSync(token, `tok-${process.pid}\n`);
    const config = {
      listen: `127.0.0.1:${listen}`, tokenFile: token, root: path.join(tmp, 'root'), provider: { kind: 'none' },
      market: 'spot', price: 0.03, etcd: { endpoints: [etcdUrl] }, metrics: { listen: `127.0.0.1:${metrics}` },
    };
    fs.writeFileSync(path.join(tmp, 'daemon.json'), JSON.stringify(config));
    daemonLog = path.join(tmp, 'daemon.log');
    metricsUrl = `http://127.0.0.1:${metrics}`;
    daemon = spawn(runx, ['--root', path.join(tmp, 'root'), '--log', daemonLog, 'daemon', '--config', path.join(tmp, 'daemon.json')], { stdio: 'ignore' });
    await until('the daemon to answer GET /status', async () => {
      if (!alive(daemon)) throw new Error(`the daemon exited: ${fs.existsSync(daemonLog) ? fs.readFileSync(daemonLog, 'utf8') : ''}`);
      const res = await fetch(`${metricsUrl}/status`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200 ? true : undefined;
    }, 30_000);
  }, 90_000);

  afterAll(async () => {
    await stop(daemon);
    await stop(etcd);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  it('lists the peers registered in etcd', async () => {
    const peers = await daemonPeers();
    expect(peers.map((p) => p.name).sort()).toEqual(['b', 'c']);
    expect(peers.find((p) => p.name === 'b')).toMatchObject({ address: '127.0.0.1:7071', market: 'on-demand', price: 0.096 });
    expect(peers.find((p) => p.name === 'c')).toMatchObject({ address: '127.0.0.1:7072', market: 'spot', price: 0.031 });
  });

  it('sees a peer registered later', async () => {
    await put('d', { name: 'd', address: '127.0.0.1:7073', market: 'on-demand', price: 0.05 });
    await until('peer d in the daemon\'s list', async () => ((await names()).includes('d') ? true : undefined), 15_000);
    expect(await names()).toEqual(['b', 'c', 'd']);
  });

  it('keeps its last known peers and logs a one-line warning when etcd goes away', async () => {
    const before = await names();
    const pid = etcd!.pid!;
    const gone = new Promise<void>((r) => etcd!.once('exit', () => r()));
    process.kill(pid, 'SIGKILL');
    await gone;
    expect(await names()).toEqual(before);
    const warning = await until('a warning about etcd in the daemon log', async () => {
      const lines = fs.readFileSync(daemonLog, 'utf8').split('\n').filter(Boolean);
      return lines.map((l) => JSON.parse(l) as { level: string | number; msg?: string; endpoint?: string })
        .find((l) => (l.level === 'warn' || l.level === 40) && /etcd: cannot read peers/.test(l.msg ?? ''));
    }, 10_000);
    expect(warning.endpoint).toBe(etcdUrl);
    expect(warning.msg).not.toContain('\n');
    // Still up, still answering, and still the same list on later reads.
    expect(alive(daemon)).toBe(true);
    expect((await fetch(`${metricsUrl}/status`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    expect(await names()).toEqual(before);
  }, 60_000);
});
