// End to end: a real `runx daemon` process (host A) managing a real container, driven
// through its gRPC control API on its default unix socket (<root>/@spot/control.sock).
// Every rpc answers; bad requests are gRPC errors that move nothing; random bytes on
// the socket do not kill it. Then the peer the planner picks (B, the cheaper) dies
// (its `runx serve`, keeper and QEMU killed) once it has prepared to receive the
// container, while the transfer runs: the daemon falls back to a checkpoint written to
// the other peer (C), the report says so, and the counter runs on at C with no gap.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonControlClient, DaemonControlError } from '../../src/spot/control-client';
import { controlPackage } from '../../src/spot/control-proto';
import type { EvacuationReport } from '../../src/spot/control-proto';
import { freePort } from '../helpers/free-port';
import { runxBin } from '../helpers/runx-bin';

const repo = path.resolve(__dirname, '../..');
const runx = runxBin(repo);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-ctl-'));
const root = { A: path.join(tmp, 'A'), B: path.join(tmp, 'B'), C: path.join(tmp, 'C') };
const token = path.join(tmp, 'token');
const socket = path.join(root.A, '@spot', 'control.sock');
const id = 'k1';
const serves: Partial<Record<'B' | 'C', ChildProcess>> = {};
let daemon: ChildProcess;
let client: DaemonControlClient;

function state(r: string): { status: string; annotations?: Record<string, string> } | undefined {
  try {
    return JSON.parse(execFileSync(runx, ['--root', r, 'state', id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return undefined;
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pids of processes this test started, directly or not, under `dir` (by argv or cwd). */
function pidsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      let cwd = '';
      try { cwd = fs.readlinkSync(`/proc/${p}/cwd`); } catch { /* gone or not ours to read */ }
      if (argv.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) out.push(Number(p));
    } catch { /* exited */ }
  }
  return out;
}

function killAll(pids: number[]): void {
  for (const p of pids) {
    try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** True while a TCP connection to 127.0.0.1:port is established (/proc/net/tcp, state 01). */
function streaming(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .some((l) => { const f = l.trim().split(/\s+/); return f[1]?.endsWith(`:${hex}`) && f[3] === '01'; });
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

describe('spot daemon control API (gRPC, real daemon process)', () => {
  beforeAll(async () => {
    fs.writeFileSync(token, `tok-${process.pid}\n`);
    const ports = { A: await freePort(), B: await freePort(), C: await freePort() };
    for (const h of ['B', 'C'] as const) {
      serves[h] = spawn(runx, ['--root', root[h], '--log', path.join(tmp, `serve-${h}.log`), 'serve', '--listen', `127.0.0.1:${ports[h]}`, '--token-file', token], { stdio: 'ignore' });
    }
    const bundle = path.join(tmp, 'bundle');
    execFileSync('node', [path.join(repo, 'test/helpers/make-bundle.mjs'), bundle, '--', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done']);
    const out = fs.openSync(path.join(tmp, `${id}.out`), 'w');
    execFileSync(runx, ['--root', root.A, 'create', '--bundle', bundle, id], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    execFileSync(runx, ['--root', root.A, 'start', id]);
    const config = {
      listen: `127.0.0.1:${ports.A}`, tokenFile: token, root: root.A, provider: { kind: 'none' }, market: 'spot', price: 0.03,
      // B is cheaper, so the planner sends the container there first.
      peers: [
        { name: 'B', address: `127.0.0.1:${ports.B}`, market: 'on-demand', price: 0.05, tokenFile: token },
        { name: 'C', address: `127.0.0.1:${ports.C}`, market: 'on-demand', price: 0.096, tokenFile: token },
      ],
      // A slow link (QEMU max-bandwidth) keeps the live transfer to B going for seconds:
      // B dies while it runs. The planner still chooses live (~130 s of 295 at 2 MiB/s
      // with no dirtying); the fallback checkpoint gets the same cap.
      policy: { linkMiBps: 2, defaultDirtyRateMiBps: 0 },
    };
    fs.writeFileSync(path.join(tmp, 'daemon.json'), JSON.stringify(config));
    daemon = spawn(runx, ['--log', path.join(tmp, 'daemon.log'), 'daemon', '--config', path.join(tmp, 'daemon.json')], { stdio: 'ignore' });
    client = new DaemonControlClient(socket);
    await until('the daemon answering on its control socket', async () => {
      if (!alive(daemon)) throw new Error(`the daemon exited: ${fs.readFileSync(path.join(tmp, 'daemon.log'), 'utf8')}`);
      return fs.existsSync(socket) && client.status({ timeoutMs: 2000 }).then(() => true, () => false);
    }, 30_000);
  }, 90_000);

  afterAll(async () => {
    client?.close();
    for (const c of [daemon, serves.B, serves.C]) if (c && alive(c)) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    for (const r of Object.values(root)) {
      try { execFileSync(runx, ['--root', r, 'delete', '--force', id], { stdio: 'ignore' }); } catch { /* not there */ }
    }
    // Whatever is left of ours (a keeper or QEMU the dead peer left behind).
    killAll(pidsUnder(tmp));
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('answers Status, ListContainers and Plan', async () => {
    const st = await client.status();
    expect(st).toMatchObject({ provider: 'PROVIDER_NONE', market: 'MARKET_SPOT', price: 0.03, evacuating: false, evacuations: 0, lastEvacuation: null });
    const list = await client.listContainers();
    expect(list.map((c) => c.id)).toEqual([id]);
    expect(list[0]!.memoryMib).toBeGreaterThan(0);
    const plan = await client.plan({ deadlineSeconds: 300 });
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0]).toMatchObject({ containerId: id, peer: 'B', mode: 'PATH_LIVE', fits: true });
  });

  it('refuses a negative or absurd deadline and an unknown container, and moves nothing', async () => {
    const { grpc: g } = controlPackage();
    const cases: Array<[Promise<unknown>, number]> = [
      [client.evacuate({ deadlineSeconds: -30 }), g.status.INVALID_ARGUMENT],
      [client.drain({ deadlineSeconds: 1e15 }), g.status.INVALID_ARGUMENT],
      [client.evacuate({ deadlineSeconds: 30, containerIds: ['no-such-container'] }), g.status.NOT_FOUND],
      [client.plan({ containerIds: [id, 'ghost'] }), g.status.NOT_FOUND],
    ];
    for (const [call, code] of cases) {
      const err = await call.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(DaemonControlError);
      const e = err as DaemonControlError;
      expect(e.grpcCode, e.message).toBe(code);
      expect(e.message.length).toBeGreaterThan(0);
      expect(e.message).not.toContain('\n');
    }
    expect((await client.status()).evacuations).toBe(0);
    expect(state(root.A)).toMatchObject({ status: 'running' });
    expect(state(root.A)?.annotations?.['io.runx.migrated-to']).toBeUndefined();
    expect(fs.existsSync(path.join(root.B, id))).toBe(false);
    expect(fs.existsSync(path.join(root.C, id))).toBe(false);
  });

  it('lives through garbage on its socket', async () => {
    for (const bytes of [crypto.randomBytes(256 * 1024), Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x99\xff' + 'x'.repeat(100)), Buffer.alloc(0)]) {
      await new Promise<void>((resolve) => {
        const s = net.connect(socket, () => { s.end(bytes); setTimeout(() => s.destroy(), 100); });
        s.on('error', () => undefined).on('close', () => resolve());
      });
    }
    expect(alive(daemon)).toBe(true);
    expect((await client.status()).provider).toBe('PROVIDER_NONE');
  });

  it('falls back to a checkpoint written to the other peer when the chosen peer dies mid-evacuation', async () => {
    const evacuation = client.evacuate({ deadlineSeconds: 300 });
    const settled: { report?: EvacuationReport; error?: unknown } = {};
    evacuation.then((r) => { settled.report = r; }, (e: unknown) => { settled.error = e; });
    // Once B's QEMU has the memory stream connected (the disk mirror is done and the
    // RAM is on its way, slowly): B, its keeper and its QEMU die.
    const serveLog = path.join(tmp, 'serve-B.log');
    const migratePort = () => /prepared incoming \S+: nbd \d+, migration (\d+)/.exec(fs.existsSync(serveLog) ? fs.readFileSync(serveLog, 'utf8') : '')?.[1];
    const over = () => settled.report !== undefined || settled.error !== undefined;
    await until('B prepared to receive the container', () => migratePort() !== undefined || over(), 60_000);
    await until('the memory stream to B', () => over() || streaming(Number(migratePort())), 60_000);
    expect(settled.error).toBeUndefined();
    expect(settled.report, 'the evacuation ended before B could be killed').toBeUndefined();
    serves.B!.kill('SIGKILL');
    killAll(pidsUnder(root.B));
    expect((await client.status()).evacuating).toBe(true);

    const report = await evacuation;
    expect(report.reason).toBe('operator evacuate');
    expect(report.outcomes).toHaveLength(1);
    const o = report.outcomes[0]!;
    expect(o).toMatchObject({ containerId: id, planned: 'PATH_LIVE', path: 'PATH_CHECKPOINT_TO_PEER', peer: 'C' });
    expect(o.errors[0]).toMatch(/^live migration to B: /);

    // It runs at C; A's keeper stands in, and the counter goes on with no gap or repeat.
    await until('the container running at C', () => state(root.C)?.status === 'running', 30_000);
    expect(state(root.A)?.annotations?.['io.runx.migrated-to']).toMatch(/^127\.0\.0\.1:\d+$/);
    const lines = () => fs.readFileSync(path.join(tmp, `${id}.out`), 'utf8').trim().split('\n');
    const before = lines().length;
    await until('output continuing from C', () => lines().length > before + 3, 30_000);
    lines().forEach((l, i) => expect(l).toBe(String(i + 1)));

    const st = await client.status();
    expect(st.evacuations).toBe(1);
    expect(st.lastEvacuation?.outcomes[0]?.peer).toBe('C');
    expect(alive(daemon)).toBe(true);
  }, 180_000);

  it('manages nothing once the container has moved, and Drain says so', async () => {
    expect(await client.listContainers()).toEqual([]);
    const drained = await client.drain();
    expect(drained.reason).toBe('operator drain');
    expect(drained.outcomes).toEqual([]);
    expect((await client.status()).evacuations).toBe(2);
  });
});
