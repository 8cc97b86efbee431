// What the fleet looks like in etcd, read in one snapshot: the registered peers (one
// key each under the peers prefix, on the peer's lease, so a dead daemon's entry goes
// when its lease expires) and the reservations held on them (one key per container
// under `<reservations prefix><peer>/`, on the evacuating host's lease, or on the
// peer's own once the container has landed). A peer's free memory for the planner
// is its capacity less what it runs less what is reserved on it. Entries written by
// hand in the older shape (no capacityMiB: `memoryMiB` is the room offered) are read
// too, so the registry stays compatible with what EtcdPeers reads.
import type { Market } from '../config';
import type { PeerView } from '../policy/peers';
import type { KeyValue, KvStore } from './kv';

export interface FleetKeys {
  /** Registered daemons, `<peers><name>`. */
  peers: string;
  /** Reservations, `<reservations><peer>/<from>/<container>`. */
  reservations: string;
}

export const DEFAULT_KEYS: FleetKeys = { peers: '/runx/peers/', reservations: '/runx/reservations/' };

/** The value of a daemon's registration key. */
export interface Registration {
  name: string;
  address: string;
  market: Market;
  price: number;
  /** Memory this host offers to containers, MiB. */
  capacityMiB?: number;
  /** Taken by the containers it runs, MiB. */
  usedMiB?: number;
  /** capacityMiB − usedMiB (reservations not counted); `memoryMiB` in the older shape. */
  memoryMiB?: number;
  /** The host's free memory as the kernel reports it, for operators. */
  hostFreeMiB?: number;
  updatedAt?: string;
}

export interface ReservationRecord {
  key: string;
  peer: string;
  from: string;
  containerId: string;
  memoryMiB: number;
  lease: string;
  modRevision: number;
  /** On the peer's lease: the container has landed there. */
  landed: boolean;
}

export interface FleetPeer extends PeerView {
  key: string;
  modRevision: number;
  lease: string;
  capacityMiB?: number;
  usedMiB?: number;
  reservedMiB: number;
}

export interface FleetSnapshot {
  revision: number;
  peers: FleetPeer[];
  reservations: ReservationRecord[];
}

export const reservationPrefix = (keys: FleetKeys, peer: string) => `${keys.reservations}${peer}/`;
export const reservationKey = (keys: FleetKeys, peer: string, from: string, containerId: string) => `${reservationPrefix(keys, peer)}${from}/${containerId}`;

function parse(value: string): unknown {
  try { return JSON.parse(value); } catch { return undefined; }
}

function asRegistration(v: unknown): Registration | undefined {
  const r = v as Registration | undefined;
  if (!r || typeof r.name !== 'string' || typeof r.address !== 'string' || (r.market !== 'spot' && r.market !== 'on-demand') || typeof r.price !== 'number') return undefined;
  return r;
}

/** Parsed snapshots, by the store's snapshot array: a store that shares one (memory-kv) is parsed once. */
const parsed = new WeakMap<readonly unknown[], { keys: string; view: FleetSnapshot }>();

/** The fleet now. The result is shared between callers of the same snapshot: do not change it. */
export async function readFleet(kv: KvStore, keys: FleetKeys = DEFAULT_KEYS): Promise<FleetSnapshot> {
  const snap = await kv.read([keys.peers, keys.reservations]);
  const k = `${keys.peers}\0${keys.reservations}`;
  const hit = parsed.get(snap.kvs);
  if (hit?.keys === k) return hit.view;
  const view = parseFleet(snap, keys);
  parsed.set(snap.kvs, { keys: k, view });
  return view;
}

function parseFleet(snap: { revision: number; kvs: readonly KeyValue[] }, keys: FleetKeys): FleetSnapshot {
  const reservations: ReservationRecord[] = [];
  const regs: Array<{ kv: (typeof snap.kvs)[number]; reg: Registration }> = [];
  for (const e of snap.kvs) {
    if (e.key.startsWith(keys.reservations)) {
      const r = parse(e.value) as { peer?: unknown; from?: unknown; containerId?: unknown; memoryMiB?: unknown } | undefined;
      if (!r || typeof r.peer !== 'string' || typeof r.from !== 'string' || typeof r.containerId !== 'string' || typeof r.memoryMiB !== 'number') continue;
      reservations.push({ key: e.key, peer: r.peer, from: r.from, containerId: r.containerId, memoryMiB: r.memoryMiB, lease: e.lease, modRevision: e.modRevision, landed: false });
    } else {
      const reg = asRegistration(parse(e.value));
      if (reg) regs.push({ kv: e, reg });
    }
  }
  const peers = regs.map(({ kv: e, reg }): FleetPeer => {
    const mine = reservations.filter((r) => r.peer === reg.name);
    for (const r of mine) r.landed = r.lease !== '' && r.lease === e.lease;
    const reservedMiB = mine.reduce((s, r) => s + r.memoryMiB, 0);
    const room = reg.capacityMiB !== undefined ? reg.capacityMiB - (reg.usedMiB ?? 0) : reg.memoryMiB;
    const p: FleetPeer = {
      name: reg.name, address: reg.address, market: reg.market, price: reg.price, risk: reg.market === 'spot' ? undefined : 0,
      key: e.key, modRevision: e.modRevision, lease: e.lease, reservedMiB,
    };
    if (room !== undefined) p.freeMemoryMiB = room - reservedMiB;
    if (reg.capacityMiB !== undefined) p.capacityMiB = reg.capacityMiB;
    if (reg.usedMiB !== undefined) p.usedMiB = reg.usedMiB;
    return p;
  });
  return { revision: snap.revision, peers, reservations };
}
