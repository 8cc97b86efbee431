// The daemon with a shared registry (#19.2, #19.4): an evacuation reserves room on
// peers before it moves anything, the gRPC Status and /metrics show the reservations
// (and their bytes) while the moves run, and they are gone once the containers have
// landed. The store is the in-memory one with etcd's semantics (fleet-reservations
// tests the same code against a real etcd); the Migrator is a double that holds each
// move until the test lets it go, so nothing boots.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateDaemonConfig } from '../../../src/spot/config';
import { DaemonControlClient } from '../../../src/spot/control-client';
import { SpotDaemon } from '../../../src/spot/daemon';
import { readFleet } from '../../../src/spot/fleet/fleet-view';
import type { KvStore } from '../../../src/spot/fleet/kv';
import { MemoryKv } from '../../../src/spot/fleet/memory-kv';
import { Registrar } from '../../../src/spot/fleet/registrar';
import { Reservations } from '../../../src/spot/fleet/reservations';
import type { MigrationReport, Migrator } from '../../../src/spot/migrator';
import { StaticPeers } from '../../../src/spot/peer-source';
import type { PeerView } from '../../../src/spot/policy/peers';

const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined, error: () => undefined };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

class HeldMigrator implements Migrator {
  readonly started: string[] = [];
  private gate!: () => void;
  private readonly open = new Promise<void>((r) => { this.gate = r; });
  release(): void { this.gate(); }
  private async act(id: string, peer: PeerView, path: MigrationReport['path']): Promise<MigrationReport> {
    this.started.push(`${id}@${peer.name}`);
    await this.open;
    return { containerId: id, peer: peer.name, path, startedAt: new Date(), finishedAt: new Date(), bytes: 1 };
  }
  migrate(id: string, peer: PeerView) { return this.act(id, peer, 'live'); }
  checkpointTo(id: string, peer: PeerView) { return this.act(id, peer, 'checkpoint-to-peer'); }
}

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('spot daemon with reservations', () => {
  it('reserves before moving, shows reservations over gRPC and /metrics, and settles them as containers land', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-fleet-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const kv = new MemoryKv();
    const peer = new Registrar(kv, { name: 'od-a', address: '127.0.0.2:7070', market: 'on-demand', price: 0.096, capacityMiB: 512 }, async () => ({ usedMiB: 0, containerIds: [] }), quiet, 10);
    await peer.start();
    cleanups.push(() => peer.stop());
    const cfg = validateDaemonConfig({
      listen: '127.0.0.1:7070', tokenFile: '/nonexistent', provider: { kind: 'none' }, market: 'spot', price: 0.03,
      etcd: { endpoints: ['http://127.0.0.1:1'], name: 'spot0' }, metrics: { listen: '127.0.0.1:0' },
      control: { socket: path.join(dir, 'control.sock') }, policy: { linkMiBps: 1000, safetySeconds: 2, concurrency: 2 },
    });
    const migrator = new HeldMigrator();
    const containers = [{ id: 'web', memoryMiB: 256, dirtyRateMiBps: 1 }, { id: 'db', memoryMiB: 256, dirtyRateMiBps: 1 }, { id: 'big', memoryMiB: 1024, dirtyRateMiBps: 1 }];
    // spot0 offers room too, as a spot host may: evacuating, it must leave the registry first.
    const self = new Registrar(kv, { name: 'spot0', address: '127.0.0.1:7070', market: 'spot', price: 0.03, capacityMiB: 4096 }, async () => ({ usedMiB: 0, containerIds: [] }), quiet, 10);
    const d = new SpotDaemon(cfg, {
      migrator, containers: { list: async () => containers }, peers: new StaticPeers([]), logger: quiet,
      fleet: { reservations: new Reservations(kv, 'spot0', quiet, 10), registrar: self },
    });
    const { metrics } = await d.start();
    cleanups.push(() => d.stop());
    const client = new DaemonControlClient(cfg.control!.socket!);
    cleanups.push(() => client.close());
    // A failed assertion must not leave the daemon's stop waiting on held moves.
    cleanups.push(() => migrator.release());

    expect((await client.status()).reservations).toEqual([]);
    expect((await client.status()).registration).toMatchObject({ name: 'spot0', error: '' });
    expect((await readFleet(kv)).peers.map((p) => p.name).sort()).toEqual(['od-a', 'spot0']);
    const running = client.evacuate({ deadlineSeconds: 60 });
    await until('both moves to start', () => migrator.started.length === 2);
    // Held now, before anything has landed: web and db on od-a; big has no room anywhere.
    const st = await client.status();
    expect((await readFleet(kv)).peers.map((p) => p.name)).toEqual(['od-a']);
    expect(st.registration!.error).toMatch(/withdrawn/);
    expect(st.reservations.map((r) => `${r.containerId}@${r.peer}`).sort()).toEqual(['db@od-a', 'web@od-a']);
    expect(st.reservations.every((r) => r.memoryMib === 256 && r.bytes === 256 * 2 ** 20 && r.since!.seconds > 1_700_000_000)).toBe(true);
    expect(st.reservedBytes).toBe(512 * 2 ** 20);
    const text = await (await fetch(`http://${metrics}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    expect(text).toMatch(/^runx_spot_reservations\{peer="od-a"\} 2$/m);
    expect(text).toMatch(new RegExp(`^runx_spot_reserved_bytes\\{peer="od-a"\\} ${512 * 2 ** 20}$`, 'm'));
    // The peer is full in the fleet's eyes.
    expect((await readFleet(kv)).peers[0]!.freeMemoryMiB).toBe(0);
    expect(migrator.started.sort()).toEqual(['db@od-a', 'web@od-a']);

    migrator.release();
    const report = await running;
    const by = Object.fromEntries(report.outcomes.map((o) => [o.containerId, o]));
    expect(by.web!.path).toBe('PATH_LIVE');
    expect(by.db!.path).toBe('PATH_LIVE');
    // No overcommit: big is reported failed (no peer has room), not pushed onto od-a.
    expect(by.big!.path).toBe('PATH_FAILED');
    expect(by.big!.errors.join(' ')).toMatch(/no peer has room/);
    const after = await client.status();
    expect(after.reservations).toEqual([]);
    expect(after.reservedBytes).toBe(0);
    const text2 = await (await fetch(`http://${metrics}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    expect(text2).toMatch(/^runx_spot_reserved_bytes\{peer="od-a"\} 0$/m);
    // Landed: the room stays counted on the peer's own lease until its usage shows them.
    expect((await readFleet(kv)).reservations.map((r) => [r.containerId, r.landed]).sort()).toEqual([['db', true], ['web', true]]);
  });

  it('when etcd cannot be read, still evacuates to the last known peers, without reservations, and says so', async () => {
    const down: KvStore = {
      read: async () => { throw new Error('ECONNREFUSED'); }, txn: async () => { throw new Error('ECONNREFUSED'); },
      grantLease: async () => { throw new Error('ECONNREFUSED'); }, keepAlive: async () => { throw new Error('ECONNREFUSED'); }, revoke: async () => undefined,
    };
    const errors: string[] = [];
    const logger = { ...quiet, error: (m: string) => { errors.push(m); } };
    const cfg = validateDaemonConfig({
      listen: '127.0.0.1:7070', tokenFile: '/nonexistent', provider: { kind: 'none' }, market: 'spot', price: 0.03,
      etcd: { endpoints: ['http://127.0.0.1:1'], name: 'spot0' }, policy: { linkMiBps: 1000, safetySeconds: 2 },
    });
    const migrator = new HeldMigrator();
    migrator.release();
    const d = new SpotDaemon(cfg, {
      migrator, containers: { list: async () => [{ id: 'web', memoryMiB: 256, dirtyRateMiBps: 1 }] }, logger,
      peers: new StaticPeers([{ name: 'b', address: '127.0.0.2:7070', market: 'on-demand', price: 0.096 }]),
      fleet: { reservations: new Reservations(down, 'spot0', quiet, 10) },
    });
    const report = await d.evacuate('test', Date.now() + 60_000);
    expect(report.outcomes.map((o) => [o.containerId, o.path, o.peer])).toEqual([['web', 'live', 'b']]);
    expect(errors.join('\n')).toMatch(/etcd: cannot reserve room on peers, evacuating without reservations: .*ECONNREFUSED/);
    expect(d.status().reservations).toEqual([]);
    await d.stop();
  });
});
