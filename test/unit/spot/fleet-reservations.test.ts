// Fleet evacuation through a shared registry: daemons register themselves on a lease,
// evacuating hosts reserve room on peers with a transaction before anything moves,
// and no peer is ever overcommitted however many hosts race. Each scenario runs
// against a real etcd (Debian's etcd-server on loopback, its own data dir, stopped by
// pid) and against the simulator's in-memory store, which must behave the same.
// "Killed" below means the host stops sending keepalives and never revokes its
// lease, which is all etcd sees of a SIGKILLed daemon.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePlan, type CapacityGate } from '../../../src/spot/evacuate';
import { EtcdKv } from '../../../src/spot/fleet/etcd-kv';
import { planWithReservations } from '../../../src/spot/fleet/fleet-plan';
import { readFleet, type FleetKeys } from '../../../src/spot/fleet/fleet-view';
import type { KvStore } from '../../../src/spot/fleet/kv';
import { MemoryKv } from '../../../src/spot/fleet/memory-kv';
import { Registrar, type Usage } from '../../../src/spot/fleet/registrar';
import { Reservations } from '../../../src/spot/fleet/reservations';
import type { Migrator, MigrationReport } from '../../../src/spot/migrator';
import type { ContainerLoad } from '../../../src/spot/policy/evacuation';
import { etcdBinary, startEtcd, type TestEtcd } from '../../helpers/etcd';

const bin = etcdBinary();
if (!bin) console.warn('skipping the real-etcd fleet tests: no `etcd` on PATH (apt-get install etcd-server)');

const quiet = { warn: () => undefined, info: () => undefined };
let n = 0;
const freshKeys = (): FleetKeys => { n++; return { peers: `/t${n}/peers/`, reservations: `/t${n}/res/` }; };
const containers = (host: string, count: number, mib = 256): ContainerLoad[] =>
  Array.from({ length: count }, (_, i) => ({ id: `${host}-c${i}`, memoryMiB: mib, dirtyRateMiBps: 1 }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const idle = async (): Promise<Usage> => ({ usedMiB: 0, containerIds: [] });

async function register(kv: KvStore, keys: FleetKeys, name: string, price: number, capacityMiB: number, ttl = 2, usage = idle): Promise<Registrar> {
  const r = new Registrar(kv, { name, address: `127.0.0.1:${7000 + name.length}`, market: 'on-demand', price, capacityMiB }, usage, quiet, ttl, keys);
  await r.start();
  return r;
}

/** Reserved MiB per peer, read back from the store. */
async function reservedOn(kv: KvStore, keys: FleetKeys): Promise<Record<string, number>> {
  const snap = await readFleet(kv, keys);
  return Object.fromEntries(snap.peers.map((p) => [p.name, p.reservedMiB]));
}

const input = { now: 0, deadline: 120_000, linkMiBps: 100, concurrency: 2, safetyMarginMs: 5_000 };

function scenarios(label: string, store: () => KvStore) {
  describe(label, () => {
    it('registers a daemon with its capacity on a lease; the entry goes when the lease expires, or at once on stop', async () => {
      const kv = store(); const keys = freshKeys();
      const a = await register(kv, keys, 'a', 0.096, 1024, 2, async () => ({ usedMiB: 256, containerIds: ['x'] }));
      const b = await register(kv, keys, 'b', 0.17, 2048, 2);
      let peers = (await readFleet(kv, keys)).peers;
      expect(peers.map((p) => p.name).sort()).toEqual(['a', 'b']);
      expect(peers.find((p) => p.name === 'a')).toMatchObject({ capacityMiB: 1024, usedMiB: 256, freeMemoryMiB: 768, market: 'on-demand', price: 0.096 });
      await b.stop();
      expect((await readFleet(kv, keys)).peers.map((p) => p.name)).toEqual(['a']);
      // "a" dies: its keepalive stops, nothing revokes its lease.
      (a as unknown as { timer?: NodeJS.Timeout }).timer && clearInterval((a as unknown as { timer: NodeJS.Timeout }).timer);
      const end = Date.now() + 10_000;
      while ((await readFleet(kv, keys)).peers.length && Date.now() < end) await sleep(250);
      expect((await readFleet(kv, keys)).peers).toEqual([]);
    }, 20_000);

    it('hosts evacuating at once never overcommit a peer: the cheap one fills, the rest go to the second, the overflow is left unplaced', async () => {
      const kv = store(); const keys = freshKeys();
      const regs = [await register(kv, keys, 'od-a', 0.096, 1024, 5), await register(kv, keys, 'od-b', 0.17, 2048, 5)];
      const hosts = Array.from({ length: 8 }, (_, i) => `spot${i}`);
      const res = hosts.map((h) => new Reservations(kv, h, quiet, 5, keys));
      // 8 hosts × 3 × 256 MiB = 6144 MiB against 3072 MiB of room.
      const plans = await Promise.all(hosts.map((h, i) => planWithReservations({ containers: containers(h, 3), reservations: res[i]!, input: { ...input, spreadKey: h } })));
      const reserved = await reservedOn(kv, keys);
      expect(reserved['od-a']).toBeLessThanOrEqual(1024);
      expect(reserved['od-b']).toBeLessThanOrEqual(2048);
      // Room is never left unused while someone still needed it.
      expect(reserved['od-a']! + reserved['od-b']!).toBe(3072);
      const steps = plans.flatMap((p) => p.plan.steps);
      const unplaced = plans.flatMap((p) => p.plan.unplaced);
      expect(steps).toHaveLength(12);
      expect(unplaced).toHaveLength(12);
      expect(unplaced.every((u) => u.reason === 'no peer has room for it')).toBe(true);
      // Every planned step is backed by this host's own reservation on that peer.
      plans.forEach((p, i) => { for (const s of p.plan.steps) expect(res[i]!.get(s.containerId)?.peer).toBe(s.peer); });
      // The cheap peer was preferred: it is full.
      expect(reserved['od-a']).toBe(1024);
      await Promise.all(res.map((r) => r.stop()));
      expect(await reservedOn(kv, keys)).toEqual({ 'od-a': 0, 'od-b': 0 });
      await Promise.all(regs.map((r) => r.stop()));
    }, 30_000);

    it('a peer killed mid-evacuation: its moves fall back to a checkpoint on a peer with reserved room, its reservations are released', async () => {
      const kv = store(); const keys = freshKeys();
      const a = await register(kv, keys, 'od-a', 0.096, 1024, 2);
      const b = await register(kv, keys, 'od-b', 0.17, 1024, 5);
      const hostRes = [new Reservations(kv, 'spot0', quiet, 5, keys), new Reservations(kv, 'spot1', quiet, 5, keys)];
      const loads = [containers('spot0', 2), containers('spot1', 2)];
      const plans = await Promise.all(hostRes.map((r, i) => planWithReservations({ containers: loads[i]!, reservations: r, input: { ...input, spreadKey: r.from } })));
      expect((await reservedOn(kv, keys))['od-a']).toBe(1024);
      // od-a dies before anything is sent to it.
      await a.stop();
      const moved: Array<{ id: string; peer: string; path: string }> = [];
      const migrator: Migrator = {
        async migrate(id, peer) { if (peer.name === 'od-a') throw new Error('connection refused'); moved.push({ id, peer: peer.name, path: 'live' }); return report(id, peer.name, 'live'); },
        async checkpointTo(id, peer) { if (peer.name === 'od-a') throw new Error('connection refused'); moved.push({ id, peer: peer.name, path: 'checkpoint-to-peer' }); return report(id, peer.name, 'checkpoint-to-peer'); },
      };
      const reports = await Promise.all(hostRes.map((r, i) => {
        const gate: CapacityGate = { acquire: (c, ex) => r.acquire(c, ex), settle: (id, to) => r.settle(id, to) };
        return executePlan({ plan: plans[i]!.plan, containers: loads[i]!, peers: plans[i]!.peers, migrator, deadline: () => Date.now() + 60_000, reason: 'test', logger: quiet, capacity: gate });
      }));
      const outcomes = reports.flatMap((r) => r.outcomes);
      // od-b has room for 4 of 256 MiB: everything lands there, nothing is lost.
      expect(outcomes.map((o) => o.path).filter((p) => p === 'failed')).toEqual([]);
      expect(new Set(outcomes.map((o) => o.peer))).toEqual(new Set(['od-b']));
      expect(moved.every((m) => m.peer === 'od-b')).toBe(true);
      // No reservation is left on the dead peer; od-b's are now on od-b's own lease (landed).
      const snap = await readFleet(kv, keys);
      expect(snap.reservations.filter((r) => r.peer === 'od-a')).toEqual([]);
      expect(snap.peers.find((p) => p.name === 'od-b')!.reservedMiB).toBe(1024);
      expect(snap.reservations.every((r) => r.landed)).toBe(true);
      await Promise.all(hostRes.map((r) => r.stop()));
      // Landed reservations outlive the evacuating hosts, so room stays counted...
      expect((await reservedOn(kv, keys))['od-b']).toBe(1024);
      await b.stop();
    }, 30_000);

    it('a host killed mid-way: its reservations block others until its lease expires, then the room is free again', async () => {
      const kv = store(); const keys = freshKeys();
      const a = await register(kv, keys, 'od-a', 0.096, 512, 10);
      const dying = new Reservations(kv, 'spot-dying', quiet, 2, keys, Date.now, false);
      const p1 = await planWithReservations({ containers: containers('spot-dying', 2), reservations: dying, input });
      expect(p1.plan.steps).toHaveLength(2);
      const other = new Reservations(kv, 'spot-other', quiet, 5, keys);
      const p2 = await planWithReservations({ containers: containers('spot-other', 1), reservations: other, input });
      expect(p2.plan.steps).toHaveLength(0);
      expect(p2.plan.unplaced).toHaveLength(1);
      // No keepalive from the dead host: etcd drops its keys when the TTL runs out.
      const end = Date.now() + 10_000;
      while ((await reservedOn(kv, keys))['od-a']! > 0 && Date.now() < end) await sleep(250);
      expect((await reservedOn(kv, keys))['od-a']).toBe(0);
      const p3 = await planWithReservations({ containers: containers('spot-other', 1), reservations: other, input });
      expect(p3.plan.steps.map((s) => s.peer)).toEqual(['od-a']);
      await other.stop();
      await a.stop();
    }, 20_000);

    it('the peer drops a landed reservation once its own usage counts the container, in one transaction', async () => {
      const kv = store(); const keys = freshKeys();
      let usage: Usage = { usedMiB: 0, containerIds: [] };
      const a = await register(kv, keys, 'od-a', 0.096, 1024, 5, async () => usage);
      const r = new Reservations(kv, 'spot0', quiet, 5, keys);
      await planWithReservations({ containers: containers('spot0', 1), reservations: r, input });
      await r.settle('spot0-c0', 'od-a');
      expect((await readFleet(kv, keys)).peers[0]).toMatchObject({ reservedMiB: 256, freeMemoryMiB: 768 });
      usage = { usedMiB: 256, containerIds: ['spot0-c0'] };
      await a.heartbeat();
      expect((await readFleet(kv, keys)).peers[0]).toMatchObject({ reservedMiB: 0, usedMiB: 256, freeMemoryMiB: 768 });
      await r.stop();
      await a.stop();
    });
  });
}

function report(containerId: string, peer: string, path: MigrationReport['path']): MigrationReport {
  return { containerId, peer, path, startedAt: new Date(), finishedAt: new Date() };
}

scenarios('in-memory store (the simulator\'s)', () => new MemoryKv());

let etcd: TestEtcd | undefined;
describe.skipIf(!bin)('real etcd', () => {
  beforeAll(async () => { etcd = await startEtcd(bin!); }, 40_000);
  afterAll(async () => { await etcd?.stop(); }, 20_000);
  scenarios('etcd 3.4 JSON gateway', () => new EtcdKv([etcd!.url]));
});
