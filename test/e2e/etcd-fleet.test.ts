// End to end: real `runx daemon` processes registering themselves in a real etcd
// (Debian's etcd-server on loopback, its own data dir, stopped by pid). Each daemon
// with `etcd.register` shows up in the other's GET /peers with the room it offers;
// one stopped by SIGTERM revokes its lease and is gone at once; one SIGKILLed is gone
// when its 2 s lease runs out; /metrics says whether a daemon's registration is kept.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdBinary, startEtcd, type TestEtcd } from '../helpers/etcd';
import { freePort } from '../helpers/free-port';
import { runxBin } from '../helpers/runx-bin';

const repo = path.resolve(__dirname, '../..');
const runx = runxBin(repo);
const bin = etcdBinary();
if (!bin) console.warn('skipping the etcd fleet e2e test: no `etcd` on PATH (apt-get install etcd-server)');

let etcd: TestEtcd | undefined;
let tmp = '';
const daemons = new Map<string, { proc: ChildProcess; metrics: string; log: string }>();
const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

async function until<T>(what: string, get: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startDaemon(name: string, capacityMiB: number, market: 'spot' | 'on-demand', price: number): Promise<void> {
  const [listen, metrics] = [await freePort(), await freePort()];
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const token = path.join(dir, 'token');
  fs.writeFileSync(token, `tok-${name}\n`);
  const config = {
    listen: `127.0.0.1:${listen}`, tokenFile: token, root: path.join(dir, 'root'), provider: { kind: 'none' }, market, price,
    etcd: { endpoints: [etcd!.url], name, leaseSeconds: 2, register: { capacityMiB } }, metrics: { listen: `127.0.0.1:${metrics}` },
    control: { socket: path.join(dir, 'control.sock') },
  };
  fs.writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify(config));
  const log = path.join(dir, 'daemon.log');
  const proc = spawn(runx, ['--root', path.join(dir, 'root'), '--log', log, 'daemon', '--config', path.join(dir, 'daemon.json')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${metrics}`;
  daemons.set(name, { proc, metrics: url, log });
  await until(`daemon ${name} to answer`, async () => {
    if (!alive(proc)) throw new Error(`daemon ${name} exited: ${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''}`);
    return (await fetch(`${url}/status`, { signal: AbortSignal.timeout(2000) })).status === 200 ? true : undefined;
  }, 30_000);
}

async function peersSeenBy(name: string): Promise<Array<{ name: string; market: string; freeMemoryMiB?: number }>> {
  const res = await fetch(`${daemons.get(name)!.metrics}/peers`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  return (await res.json()) as Array<{ name: string; market: string; freeMemoryMiB?: number }>;
}

async function stopProc(c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (!alive(c)) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  process.kill(c.pid!, signal);
  const t = setTimeout(() => { if (alive(c)) process.kill(c.pid!, 'SIGKILL'); }, 5000);
  await gone;
  clearTimeout(t);
}

describe.skipIf(!bin)('spot daemons registering themselves in etcd (real etcd, real daemons)', () => {
  beforeAll(async () => {
    etcd = await startEtcd(bin!);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-fleet-e2e-'));
    await startDaemon('spot-a', 0, 'spot', 0.03);
    await startDaemon('od-b', 2048, 'on-demand', 0.096);
    await startDaemon('od-c', 1024, 'on-demand', 0.17);
  }, 120_000);

  afterAll(async () => {
    for (const d of daemons.values()) await stopProc(d.proc, 'SIGTERM');
    await etcd?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('each sees the others with the room they offer, not itself', async () => {
    const seen = await until('all three registered', async () => {
      const p = await peersSeenBy('spot-a');
      return p.length === 2 ? p : undefined;
    }, 15_000);
    expect(seen.map((p) => [p.name, p.market, p.freeMemoryMiB]).sort()).toEqual([['od-b', 'on-demand', 2048], ['od-c', 'on-demand', 1024]]);
    expect((await peersSeenBy('od-b')).map((p) => p.name).sort()).toEqual(['od-c', 'spot-a']);
    const text = await (await fetch(`${daemons.get('od-b')!.metrics}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    expect(text).toMatch(/^runx_spot_registered 1$/m);
  }, 30_000);

  it('a daemon stopped cleanly is gone at once; one SIGKILLed is gone when its lease expires', async () => {
    const c = daemons.get('od-c')!;
    await stopProc(c.proc, 'SIGTERM');
    // Revoked on stop: no need to wait for the TTL.
    expect((await peersSeenBy('spot-a')).map((p) => p.name)).toEqual(['od-b']);
    const b = daemons.get('od-b')!;
    await stopProc(b.proc, 'SIGKILL');
    const t0 = Date.now();
    // Still listed right after the kill: nothing revoked its lease...
    expect((await peersSeenBy('spot-a')).map((p) => p.name)).toEqual(['od-b']);
    // ...until the 2 s TTL runs out (etcd checks leases about every 500 ms).
    await until('od-b to expire', async () => ((await peersSeenBy('spot-a')).length === 0 ? true : undefined), 15_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 40_000);
});
