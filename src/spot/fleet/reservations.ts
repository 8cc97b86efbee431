// An evacuating host's reservations of room on its peers. Room is taken with one etcd
// transaction per peer that succeeds only if, since the snapshot the decision was made
// on, no reservation on that peer was added or changed (a compare on the mod revision
// of every key under the peer's reservation prefix) and the peer's registration is
// unchanged (capacity, usage, still alive). Two hosts deciding on the same snapshot
// therefore cannot both win: the loser re-reads and decides again. Deletions (a
// release, an expiry) are not caught by the compare, and need not be: they only free
// room, so a stale snapshot errs on the safe side. No peer is overcommitted by
// reservations, whatever the number of hosts racing.
// The keys live on this host's own lease: if it dies mid-evacuation, they go when
// the lease expires. Once a container has landed, its key moves to the peer's lease
// (the peer then counts it, and drops the key when its usage shows the container).
import type { Logger } from 'pino';
import { messageOf } from '../../errors';
import type { ContainerLoad } from '../policy/evacuation';
import { rankPeers, type PeerView } from '../policy/peers';
import { DEFAULT_KEYS, readFleet, reservationKey, reservationPrefix, type FleetKeys, type FleetPeer } from './fleet-view';
import type { KvStore } from './kv';

export interface Held {
  containerId: string;
  peer: string;
  memoryMiB: number;
  key: string;
  modRevision: number;
  since: number;
}

export class Reservations {
  private lease = '';
  private timer?: NodeJS.Timeout;
  private readonly held = new Map<string, Held>();
  /** Transactions that lost a race (someone reserved on the peer first). */
  conflicts = 0;

  constructor(
    private readonly kv: KvStore,
    /** This host's name: part of each key, so peers and operators see who holds what. */
    readonly from: string,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly ttlSeconds = 10,
    readonly keys: FleetKeys = DEFAULT_KEYS,
    private readonly now: () => number = Date.now,
    /** false in the simulator, which drives the store's clock itself. */
    private readonly keepAliveTimer = true,
  ) {}

  get leaseId(): string { return this.lease; }
  get kvStore(): KvStore { return this.kv; }
  list(): Held[] { return [...this.held.values()]; }
  get(containerId: string): Held | undefined { return this.held.get(containerId); }

  private async ensureLease(): Promise<string> {
    if (this.lease && (await this.kv.keepAlive(this.lease)) > 0) return this.lease;
    if (this.lease) {
      this.logger.warn({ lease: this.lease, lost: this.held.size }, 'etcd: reservation lease lost; its reservations are gone');
      this.held.clear();
    }
    this.lease = await this.kv.grantLease(this.ttlSeconds);
    if (this.keepAliveTimer && !this.timer) {
      this.timer = setInterval(() => {
        if (!this.lease) return;
        this.kv.keepAlive(this.lease).then((ttl) => { if (ttl <= 0) this.logger.warn('etcd: reservation lease expired'); })
          .catch((err) => this.logger.warn(`etcd: reservation keepalive failed: ${messageOf(err)}`));
      }, (this.ttlSeconds * 1000) / 3);
      this.timer.unref();
    }
    return this.lease;
  }

  /**
   * Reserves room for all of `items` on `peer`, as seen in the snapshot at `revision`,
   * or for none. False when the peer has no room in that snapshot or the transaction
   * lost a race; the caller re-reads and decides again.
   */
  async reserve(peer: FleetPeer, revision: number, items: readonly ContainerLoad[]): Promise<boolean> {
    const need = items.reduce((s, c) => s + c.memoryMiB, 0);
    if (peer.freeMemoryMiB !== undefined && need > peer.freeMemoryMiB) return false;
    const lease = await this.ensureLease();
    const keys = items.map((c) => reservationKey(this.keys, peer.name, this.from, c.id));
    const r = await this.kv.txn(
      [{ key: reservationPrefix(this.keys, peer.name), prefix: true, modRevisionBelow: revision + 1 }, { key: peer.key, modRevisionIs: peer.modRevision }],
      items.map((c, i) => ({ put: keys[i]!, value: JSON.stringify({ peer: peer.name, from: this.from, containerId: c.id, memoryMiB: c.memoryMiB }), lease })),
    );
    if (!r.succeeded) { this.conflicts++; return false; }
    const since = this.now();
    items.forEach((c, i) => this.held.set(c.id, { containerId: c.id, peer: peer.name, memoryMiB: c.memoryMiB, key: keys[i]!, modRevision: r.revision, since }));
    return true;
  }

  /**
   * Reserves room for one container on the best peer that has it (a fallback after a
   * failure, or one the plan left out), re-reading after each lost race; at most
   * `attempts` transactions. Resolves the peer, or undefined when none has room.
   */
  async acquire(c: ContainerLoad, exclude: ReadonlySet<string>, filter: (p: PeerView) => boolean = () => true, attempts = 8): Promise<FleetPeer | undefined> {
    const had = this.held.get(c.id);
    if (had && !exclude.has(had.peer)) return (await readFleet(this.kv, this.keys)).peers.find((p) => p.name === had.peer);
    if (had) await this.release(c.id);
    for (let i = 0; i < attempts; i++) {
      const snap = await readFleet(this.kv, this.keys);
      const best = rankPeers(snap.peers.filter((p) => p.name !== this.from && filter(p)), { memoryMiB: c.memoryMiB, exclude })[0];
      if (!best) return undefined;
      const peer = snap.peers.find((p) => p.name === best.peer.name)!;
      if (await this.reserve(peer, snap.revision, [c])) return peer;
    }
    return undefined;
  }

  /** Gives the room back (the move failed or went elsewhere). Never throws. */
  async release(containerId: string): Promise<void> {
    const h = this.held.get(containerId);
    if (!h) return;
    this.held.delete(containerId);
    try { await this.kv.txn([{ key: h.key, modRevisionIs: h.modRevision }], [{ delete: h.key }]); } catch (err) {
      // It goes with the lease anyway.
      this.logger.warn({ container: containerId, peer: h.peer }, `etcd: cannot release a reservation: ${messageOf(err)}`);
    }
  }

  /**
   * The container now runs on `peer`: hands its key to the peer's lease, so it stays
   * counted after this host is gone and until the peer's own usage includes it.
   */
  async landed(containerId: string, peer: FleetPeer | undefined): Promise<void> {
    const h = this.held.get(containerId);
    if (!h) return;
    this.held.delete(containerId);
    if (!peer?.lease || peer.name !== h.peer) { this.held.set(containerId, h); await this.release(containerId); return; }
    try {
      await this.kv.txn([{ key: h.key, modRevisionIs: h.modRevision }], [{ put: h.key, value: JSON.stringify({ peer: h.peer, from: this.from, containerId, memoryMiB: h.memoryMiB }), lease: peer.lease }]);
    } catch (err) {
      this.logger.warn({ container: containerId, peer: h.peer }, `etcd: cannot hand a reservation to the peer: ${messageOf(err)}`);
    }
  }

  /** Settles a container's reservation after its move: landed where reserved, else released. */
  async settle(containerId: string, wentTo: string | undefined): Promise<void> {
    const h = this.held.get(containerId);
    if (!h) return;
    if (wentTo !== h.peer) { await this.release(containerId); return; }
    const peer = (await readFleet(this.kv, this.keys).catch(() => undefined))?.peers.find((p) => p.name === wentTo);
    await this.landed(containerId, peer);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.lease) await this.kv.revoke(this.lease).catch(() => undefined);
    this.lease = '';
    this.held.clear();
  }
}
