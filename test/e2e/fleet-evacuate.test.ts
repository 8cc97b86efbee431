// End to end, a small zone-wide reclaim (#19.2, bounded for 2 cores): one real etcd
// (loopback, own data dir, stopped by pid), two on-demand `runx daemon`s that register
// themselves, B (cheaper) with room for exactly one container and C for two, and two
// spot daemons (A1, A2) each running one real container. Both spot daemons are told
// to evacuate at the same moment. Each reserves before it moves: B is reserved for
// exactly one container, the other goes to C. Then B is killed mid-transfer (its
// daemon, keeper and QEMU): that container falls back to a checkpoint on C, for
// which room is reserved first; nothing is lost, no peer is over its capacity, and
// the hosts hold no reservations afterwards.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonControlClient } from '../../src/spot/control-client';
import { etcdBinary, startEtcd, type TestEtcd } from '../helpers/etcd';
import { freePort } from '../helpers/free-port';
import { runxBin } from '../helpers/runx-bin';

const repo = path.resolve(__dirname, '../..');
const runx = runxBin(repo);
const bin = etcdBinary();
if (!bin) console.warn('skipping the fleet evacuation e2e test: no `etcd` on PATH (apt-get install etcd-server)');

type Host = 'A1' | 'A2' | 'B' | 'C';
let etcd: TestEtcd | undefined;
let tmp = '';
const procs: ChildProcess[] = [];
const daemonOf = {} as Record<Host, ChildProcess>;
const clients: Partial<Record<Host, DaemonControlClient>> = {};
const roots = {} as Record<Host, string>;
const metrics = {} as Record<Host, string>;
const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function state(root: string, id: string): { status: string; annotations?: Record<string, string> } | undefined {
  try { return JSON.parse(execFileSync(runx, ['--root', root, 'state', id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })); } catch { return undefined; }
}

function pidsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try { if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p)); } catch { /* exited */ }
  }
  return out;
}

describe.skipIf(!bin)('zone-wide reclaim through etcd reservations (real etcd, daemons, VMs)', () => {
  const ids: Record<'A1' | 'A2', string> = { A1: 'z1', A2: 'z2' };
  let memoryMiB = 0;

  beforeAll(async () => {
    etcd = await startEtcd(bin!);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-zone-'));
    const token = path.join(tmp, 'token');
    fs.writeFileSync(token, `tok-${process.pid}\n`);
    const bundle = path.join(tmp, 'bundle');
    execFileSync('node', [path.join(repo, 'test/helpers/make-bundle.mjs'), bundle, '--', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done']);
    for (const h of ['A1', 'A2', 'B', 'C'] as const) roots[h] = path.join(tmp, h);
    for (const h of ['A1', 'A2'] as const) {
      const out = fs.openSync(path.join(tmp, `${h}.out`), 'w');
      execFileSync(runx, ['--root', roots[h], 'create', '--bundle', bundle, ids[h]], { stdio: ['ignore', out, out] });
      fs.closeSync(out);
      execFileSync(runx, ['--root', roots[h], 'start', ids[h]]);
    }
    const start = async (h: Host, market: 'spot' | 'on-demand', price: number, capacityMiB?: number) => {
      const [listen, m] = [await freePort(), await freePort()];
      const config = {
        listen: `127.0.0.1:${listen}`, tokenFile: token, root: roots[h], provider: { kind: 'none' }, market, price,
        etcd: { endpoints: [etcd!.url], name: h, leaseSeconds: 4, ...(capacityMiB !== undefined ? { register: { capacityMiB } } : {}) },
        // A slow link (QEMU max-bandwidth) keeps the transfers going for seconds, so B
        // can die during one; with the 300 s deadline the planner still picks live.
        metrics: { listen: `127.0.0.1:${m}` }, policy: { linkMiBps: 2, defaultDirtyRateMiBps: 0 },
      };
      fs.writeFileSync(path.join(tmp, `${h}.json`), JSON.stringify(config));
      const p = spawn(runx, ['--log', path.join(tmp, `${h}.log`), 'daemon', '--config', path.join(tmp, `${h}.json`)], { stdio: 'ignore' });
      procs.push(p);
      daemonOf[h] = p;
      metrics[h] = `http://127.0.0.1:${m}`;
      const socket = path.join(roots[h], '@spot', 'control.sock');
      const c = new DaemonControlClient(socket);
      clients[h] = c;
      await until(`daemon ${h}`, async () => {
        if (!alive(p)) throw new Error(`daemon ${h} exited: ${fs.readFileSync(path.join(tmp, `${h}.log`), 'utf8').slice(-2000)}`);
        return fs.existsSync(socket) && c.status({ timeoutMs: 2000 }).then(() => true, () => false);
      }, 30_000);
    };
    await start('A1', 'spot', 0.03);
    await start('A2', 'spot', 0.03);
    memoryMiB = (await clients.A1!.listContainers())[0]!.memoryMib;
    await start('B', 'on-demand', 0.096, memoryMiB);
    await start('C', 'on-demand', 0.17, 2 * memoryMiB);
  }, 180_000);

  afterAll(async () => {
    for (const c of Object.values(clients)) c?.close();
    for (const p of procs) if (alive(p)) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    for (const r of Object.values(roots)) for (const id of Object.values(ids)) {
      try { execFileSync(runx, ['--root', r, 'delete', '--force', id], { stdio: 'ignore' }); } catch { /* not there */ }
    }
    for (const p of pidsUnder(tmp)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    await etcd?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('two hosts evacuating at once: B reserved for one, C for the other; B dies mid-transfer, its container falls back to C; none lost', async () => {
    const running = Promise.all([clients.A1!.evacuate({ deadlineSeconds: 300 }), clients.A2!.evacuate({ deadlineSeconds: 300 })]);
    let held: Array<{ host: 'A1' | 'A2'; peer: string }> = [];
    await until('both hosts to hold their reservations', async () => {
      held = [];
      for (const h of ['A1', 'A2'] as const) for (const r of (await clients[h]!.status()).reservations) held.push({ host: h, peer: r.peer });
      return held.length === 2;
    }, 60_000);
    // Never two on B: it has room for one.
    expect(held.map((x) => x.peer).sort()).toEqual(['B', 'C']);
    const toB = held.find((x) => x.peer === 'B')!.host;
    // Kill B while its transfer runs: the daemon and whatever it started for the container.
    await new Promise((r) => setTimeout(r, 2000));
    daemonOf.B.kill('SIGKILL');
    for (const p of pidsUnder(`${roots.B}/`)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    const [r1, r2] = await running;
    const outcomes = [...r1.outcomes, ...r2.outcomes];
    expect(outcomes.map((o) => o.path)).not.toContain('PATH_FAILED');
    expect(outcomes.map((o) => o.peer)).toEqual(['C', 'C']);
    const fellBack = outcomes.find((o) => o.containerId === ids[toB])!;
    expect(fellBack.path).toBe('PATH_CHECKPOINT_TO_PEER');
    expect(fellBack.errors.join(' ')).toMatch(/to B/);
    for (const o of outcomes) await until(`${o.containerId} running on C`, () => state(roots.C, o.containerId)?.status === 'running', 30_000);
    // C holds no more than its capacity: what it runs plus what is reserved on it.
    const peers = (await (await fetch(`${metrics.A1}/peers`, { signal: AbortSignal.timeout(5000) })).json()) as Array<{ name: string; freeMemoryMiB?: number }>;
    expect(peers.find((p) => p.name === 'C')!.freeMemoryMiB).toBeGreaterThanOrEqual(0);
    expect((await clients.A1!.status()).reservations).toEqual([]);
    expect((await clients.A2!.status()).reservations).toEqual([]);
  }, 300_000);
});
