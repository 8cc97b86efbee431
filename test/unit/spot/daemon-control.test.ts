// The daemon's gRPC control API (docs/protocol/daemon.proto) in process: the server
// implements every rpc of the service, each answers over a real unix socket through
// the library client, bad requests are gRPC errors with one-line messages that move
// nothing, garbage on the socket does not hurt it, and the socket is owner-only and
// not stolen from a live daemon. The Migrator is a recording double, so nothing boots.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPackageFile } from '../../../src/package-root';
import { validateDaemonConfig, type DaemonConfig } from '../../../src/spot/config';
import { DaemonControlClient, DaemonControlError } from '../../../src/spot/control-client';
import { CONTROL_PROTO_FILE, controlPackage } from '../../../src/spot/control-proto';
import { controlHandlers, type ControlTarget } from '../../../src/spot/control-server';
import { SpotDaemon, defaultControlSocket } from '../../../src/spot/daemon';
import type { MigrationReport, Migrator } from '../../../src/spot/migrator';
import { StaticPeers } from '../../../src/spot/peer-source';
import type { ContainerLoad } from '../../../src/spot/policy/evacuation';
import type { PeerView } from '../../../src/spot/policy/peers';

const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined, error: () => undefined } as never;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

class RecordingMigrator implements Migrator {
  calls: Array<{ op: string; id: string; peer: string }> = [];
  private async act(op: string, id: string, peer: PeerView): Promise<MigrationReport> {
    this.calls.push({ op, id, peer: peer.name });
    const t = new Date();
    return { containerId: id, peer: peer.name, path: op === 'migrate' ? 'live' : 'checkpoint-to-peer', startedAt: t, finishedAt: new Date(), bytes: 268_435_456, downtimeMs: 120 };
  }
  migrate(id: string, peer: PeerView) { return this.act('migrate', id, peer); }
  checkpointTo(id: string, peer: PeerView) { return this.act('checkpointTo', id, peer); }
}

const containers: ContainerLoad[] = [
  { id: 'web', memoryMiB: 256, dirtyRateMiBps: 2 },
  { id: 'db', memoryMiB: 512, dirtyRateMiBps: 1, priority: 5 },
  { id: 'cache', memoryMiB: 128 },
];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-ctl-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function config(socket: string, over: Partial<DaemonConfig> = {}): DaemonConfig {
  return validateDaemonConfig({
    listen: '127.0.0.1:7070', tokenFile: '/nonexistent', provider: { kind: 'aws' }, market: 'spot', price: 0.03,
    peers: [{ name: 'b', address: '127.0.0.2:7070', market: 'on-demand', price: 0.096 }],
    control: { socket }, policy: { linkMiBps: 1000, safetySeconds: 2 },
    ...over,
  });
}

async function started(over: Partial<DaemonConfig> = {}) {
  const dir = tempDir();
  const socket = over.control?.socket ?? path.join(dir, 'run', 'control.sock');
  const migrator = new RecordingMigrator();
  const cfg = config(socket, over);
  const d = new SpotDaemon(cfg, { migrator, containers: { list: async () => containers }, peers: new StaticPeers(cfg.peers ?? []), logger: quiet });
  const addrs = await d.start();
  cleanups.push(() => d.stop());
  const client = new DaemonControlClient(socket);
  cleanups.push(() => client.close());
  return { d, migrator, socket, client, dir, metrics: addrs.metrics };
}

async function rejection(p: Promise<unknown>): Promise<DaemonControlError> {
  try { await p; } catch (err) { expect(err).toBeInstanceOf(DaemonControlError); return err as DaemonControlError; }
  throw new Error('expected the call to fail');
}

describe('control API', () => {
  it('implements every rpc of the service in docs/protocol/daemon.proto, and nothing else', () => {
    const { service } = controlPackage();
    const target: ControlTarget = {
      status: () => { throw new Error('unused'); }, containers: async () => [],
      operatorEvacuate: async () => { throw new Error('unused'); }, operatorPlan: async () => { throw new Error('unused'); },
    };
    const handlers = controlHandlers(target, quiet);
    // The rpc names as written in the .proto text, not only as proto-loader read them.
    const text = readPackageFile(CONTROL_PROTO_FILE);
    const inProto = [...text.matchAll(/^\s*rpc\s+(\w+)\s*\(/gm)].map((m) => m[1]).sort();
    expect(inProto).toEqual(['Drain', 'Evacuate', 'ListContainers', 'Plan', 'Status']);
    expect(Object.keys(service).sort()).toEqual(inProto);
    expect(Object.keys(handlers).sort()).toEqual(inProto);
    for (const [name, def] of Object.entries(service)) {
      expect(def.requestStream || def.responseStream, `${name} is unary`).toBe(false);
      expect(typeof handlers[name as keyof typeof handlers]).toBe('function');
    }
  });

  it('answers each rpc over the unix socket, with typed replies', async () => {
    const { client, migrator, d } = await started();
    const st = await client.status();
    expect(st).toMatchObject({ provider: 'PROVIDER_AWS', market: 'MARKET_SPOT', price: 0.03, placement: 'MARKET_SPOT', evacuating: false, evacuations: 0 });
    expect(st.risk).toBeUndefined();
    expect(st.lastEvacuation).toBeNull();

    const list = await client.listContainers();
    expect(list.map((c) => c.id)).toEqual(['web', 'db', 'cache']);
    expect(list[1]).toEqual({ id: 'db', memoryMib: 512, dirtyRateMibps: 1, diskMib: 0, priority: 5 });

    const before = Date.now();
    const plan = await client.plan({ deadlineSeconds: 60, containerIds: ['web', 'db'] });
    expect(plan.steps.map((s) => s.containerId).sort()).toEqual(['db', 'web']);
    expect(plan.steps.every((s) => s.peer === 'b' && s.mode === 'PATH_LIVE' && s.fits)).toBe(true);
    expect(plan.allFit).toBe(true);
    expect(plan.deadline!.seconds * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 59_000);
    expect(migrator.calls).toEqual([]); // planning moves nothing

    const r = await client.evacuate({ deadlineSeconds: 90, containerIds: ['cache'] });
    expect(r.reason).toBe('operator evacuate');
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ containerId: 'cache', path: 'PATH_LIVE', planned: 'PATH_LIVE', peer: 'b', withinDeadline: true, bytes: 268_435_456, downtimeMs: 120 });
    expect(r.outcomes[0]!.startedAt!.seconds).toBeGreaterThan(1_700_000_000);
    expect(migrator.calls).toEqual([{ op: 'migrate', id: 'cache', peer: 'b' }]);

    const drained = await client.drain();
    expect(drained.reason).toBe('operator drain');
    expect(drained.outcomes.map((o) => o.containerId).sort()).toEqual(['cache', 'db', 'web']);
    // a drain's default deadline is the planned-move one, ten minutes out
    expect(drained.deadline!.seconds - Math.floor(before / 1000)).toBeGreaterThanOrEqual(590);

    const after = await client.status();
    expect(after.evacuations).toBe(2);
    expect(after.lastEvacuation!.reason).toBe('operator drain');
    expect(d.reports).toHaveLength(2);
  });

  it('refuses bad deadlines and unknown containers with one-line errors, and moves nothing', async () => {
    const { client, migrator, d, socket } = await started();
    const { grpc: g } = controlPackage();
    const cases: Array<[Promise<unknown>, number, RegExp]> = [
      [client.evacuate({ deadlineSeconds: -5 }), g.status.INVALID_ARGUMENT, /deadline must be a positive number of seconds, not -5/],
      [client.drain({ deadlineSeconds: -0.001 }), g.status.INVALID_ARGUMENT, /positive number/],
      [client.evacuate({ deadlineSeconds: 1e12 }), g.status.INVALID_ARGUMENT, /more than a day/],
      [client.evacuate({ deadlineSeconds: Infinity }), g.status.INVALID_ARGUMENT, /positive number/],
      [client.evacuate({ deadlineSeconds: NaN }), g.status.INVALID_ARGUMENT, /positive number/],
      [client.plan({ deadlineSeconds: -1 }), g.status.INVALID_ARGUMENT, /positive number/],
      [client.evacuate({ containerIds: ['web', 'nope'] }), g.status.NOT_FOUND, /container "nope" not managed by this daemon/],
      [client.drain({ containerIds: ['x', 'y'] }), g.status.NOT_FOUND, /containers "x", "y" not managed/],
      [client.plan({ containerIds: ['nope'] }), g.status.NOT_FOUND, /not managed/],
    ];
    for (const [call, code, msg] of cases) {
      const e = await rejection(call);
      expect(e.grpcCode, e.message).toBe(code);
      expect(e.message).toMatch(msg);
      expect(e.message).not.toContain('\n');
    }
    expect(migrator.calls).toEqual([]);
    expect(d.reports).toEqual([]);
    expect((await client.status()).evacuations).toBe(0);

    // The same through grpc-js directly: the status details are the one line.
    const { Client } = controlPackage();
    const raw = new Client(`unix:${socket}`, g.credentials.createInsecure());
    cleanups.push(() => raw.close());
    const err = await new Promise<{ code: number; details: string }>((resolve) => {
      raw.Evacuate({ deadlineSeconds: -1 }, new g.Metadata(), {}, (e) => resolve(e!));
    });
    expect(err.code).toBe(g.status.INVALID_ARGUMENT);
    expect(err.details).toBe('deadline must be a positive number of seconds, not -1');
  });

  it('survives garbage on the socket and keeps answering', async () => {
    const { client, socket } = await started();
    const send = (bytes: Buffer) => new Promise<void>((resolve) => {
      const s = net.connect(socket, () => { s.write(bytes); setTimeout(() => s.destroy(), 50); });
      s.on('error', () => undefined).on('close', () => resolve());
    });
    await send(crypto.randomBytes(64 * 1024));
    await send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    // a valid HTTP/2 preface, then a frame of nonsense
    await send(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), crypto.randomBytes(4096)]));
    // connections opened and dropped without a byte
    await Promise.all(Array.from({ length: 20 }, () => send(Buffer.alloc(0))));
    expect((await client.status()).provider).toBe('PROVIDER_AWS');
    expect((await client.listContainers())).toHaveLength(3);
  });

  it('makes the socket owner-only, replaces a stale one, and does not take a live one', async () => {
    const { socket, client } = await started();
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(socket)).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(path.dirname(socket))).toEqual(['control.sock']); // the staging dir is gone

    // a second daemon on the same socket: refused, and the first keeps serving
    const second = new SpotDaemon(config(socket, { provider: { kind: 'none' } }), { migrator: new RecordingMigrator(), containers: { list: async () => [] }, peers: new StaticPeers([]), logger: quiet });
    await expect(second.start()).rejects.toThrow(/another daemon answers there/);
    await second.stop();
    expect((await client.status()).provider).toBe('PROVIDER_AWS');

    // a socket left by a killed daemon (bound, then its server gone without unlinking)
    const dir = tempDir();
    const stale = path.join(dir, 'stale.sock');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(stale, r));
    fs.linkSync(stale, path.join(dir, 'keep')); // close() unlinks the path; the hard link keeps the file
    await new Promise<void>((r) => srv.close(() => r()));
    fs.renameSync(path.join(dir, 'keep'), stale);
    expect(fs.lstatSync(stale).isSocket()).toBe(true);
    const d = new SpotDaemon(config(stale, { provider: { kind: 'none' } }), { migrator: new RecordingMigrator(), containers: { list: async () => containers }, peers: new StaticPeers([]), logger: quiet });
    cleanups.push(() => d.stop());
    expect((await d.start()).control).toBe(stale);
    const c2 = new DaemonControlClient(stale);
    cleanups.push(() => c2.close());
    expect((await c2.status()).provider).toBe('PROVIDER_NONE');

    // not a socket at all: refused without touching it
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, 'keep me');
    const d3 = new SpotDaemon(config(file), { migrator: new RecordingMigrator(), containers: { list: async () => [] }, peers: new StaticPeers([]), logger: quiet });
    await expect(d3.start()).rejects.toThrow(/exists and is not a socket/);
    await d3.stop();
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('removes its socket on stop, and an unreachable daemon is a clear error', async () => {
    const { d, socket, client } = await started();
    await d.stop();
    expect(fs.existsSync(socket)).toBe(false);
    const e = await rejection(client.status({ timeoutMs: 2000 }));
    expect(e.code).toBe('EHOST');
    expect(e.message).toMatch(/^cannot reach the spot daemon at .*control\.sock/);
  });

  it('serves on a socket path longer than a sun_path holds', async () => {
    const deep = path.join(tempDir(), 'x'.repeat(60), 'y'.repeat(60), 'control.sock');
    expect(Buffer.byteLength(deep)).toBeGreaterThan(107);
    const { client } = await started({ control: { socket: deep } });
    expect((await client.status()).provider).toBe('PROVIDER_AWS');
    expect(fs.lstatSync(deep).isSocket()).toBe(true);
  });

  it('puts the default socket beside the managed containers, under a name no container id can take', () => {
    expect(defaultControlSocket('/run/runx')).toBe('/run/runx/@spot/control.sock');
  });

  it('checks HTTP requests as it checks gRPC ones', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'token'), 's3cret\n');
    const { metrics, migrator } = await started({ tokenFile: path.join(dir, 'token'), metrics: { listen: '127.0.0.1:0' } });
    const post = (q: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.request(`http://${metrics}/evacuate${q}`, { method: 'POST', headers: { authorization: 'Bearer s3cret' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; }).on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject).end();
    });
    expect((await post('?deadline=-3')).status).toBe(400);
    expect((await post('?deadline=abc')).status).toBe(400);
    const nf = await post('?container=nope');
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.body).error).toMatch(/not managed/);
    expect(migrator.calls).toEqual([]);
    const ok = await post('?deadline=30&container=web');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).outcomes.map((o: { containerId: string }) => o.containerId)).toEqual(['web']);
  });
});
