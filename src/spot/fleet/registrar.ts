// A daemon registering itself in etcd: one key under the peers prefix, on a lease
// with a short TTL kept alive every TTL/3, so the entry goes by itself when the
// daemon dies or is cut off. The value (fleet-view.ts Registration) is rewritten only
// when what the host runs changes, because every rewrite makes evacuating hosts'
// reservation transactions on this peer retry. When it rewrites, in the same
// transaction it deletes the reservations for containers it now runs (their memory
// is in usedMiB from then on), so a container is never counted twice for long nor,
// between the two, not at all. If the lease is lost (etcd restarted, a long pause),
// a new one is granted and the entry written again.
import os from 'node:os';
import type { Logger } from 'pino';
import { messageOf } from '../../errors';
import type { Market } from '../config';
import { DEFAULT_KEYS, reservationPrefix, type FleetKeys, type Registration } from './fleet-view';
import type { KvStore, Op, Compare } from './kv';

export interface SelfDescription {
  name: string;
  address: string;
  market: Market;
  price: number;
  capacityMiB: number;
}

export interface Usage { usedMiB: number; containerIds: readonly string[] }

export class Registrar {
  private lease = '';
  private timer?: NodeJS.Timeout;
  private last = '';
  private lastError?: string;
  private beat?: Promise<void>;

  constructor(
    private readonly kv: KvStore,
    private readonly self: SelfDescription,
    private readonly usage: () => Promise<Usage>,
    private readonly logger: Pick<Logger, 'warn' | 'info'>,
    private readonly ttlSeconds = 10,
    private readonly keys: FleetKeys = DEFAULT_KEYS,
  ) {}

  get key(): string { return `${this.keys.peers}${this.self.name}`; }
  get leaseId(): string { return this.lease; }
  get error(): string | undefined { return this.lastError; }

  async start(): Promise<void> {
    await this.heartbeat();
    this.timer = setInterval(() => { this.beat ??= this.heartbeat().finally(() => { this.beat = undefined; }); }, (this.ttlSeconds * 1000) / 3);
    this.timer.unref();
  }

  /** Keeps the lease alive and rewrites the entry if the host's usage changed. Never throws. */
  async heartbeat(): Promise<void> {
    try {
      if (!this.lease || (await this.kv.keepAlive(this.lease)) <= 0) {
        if (this.lease) this.logger.warn({ lease: this.lease }, 'etcd: registration lease lost; registering again');
        this.lease = await this.kv.grantLease(this.ttlSeconds);
        this.last = '';
      }
      await this.refresh();
      this.lastError = undefined;
    } catch (err) {
      if (this.lastError === undefined) this.logger.warn(`etcd: cannot keep the registration: ${messageOf(err)}`);
      this.lastError = messageOf(err);
    }
  }

  async refresh(): Promise<void> {
    const u = await this.usage();
    const snap = await this.kv.read([this.key, reservationPrefix(this.keys, this.self.name)]);
    const running = new Set(u.containerIds);
    const counted = snap.kvs.filter((e) => e.key !== this.key && (() => {
      try { return running.has((JSON.parse(e.value) as { containerId?: string }).containerId ?? ''); } catch { return false; }
    })());
    const reg: Registration = {
      name: this.self.name, address: this.self.address, market: this.self.market, price: this.self.price,
      capacityMiB: this.self.capacityMiB, usedMiB: u.usedMiB, memoryMiB: Math.max(0, this.self.capacityMiB - u.usedMiB),
    };
    const value = JSON.stringify(reg);
    const mine = snap.kvs.find((e) => e.key === this.key);
    if (value === this.last && mine?.lease === this.lease && !counted.length) return;
    const full = JSON.stringify({ ...reg, hostFreeMiB: Math.floor(os.freemem() / 2 ** 20), updatedAt: new Date().toISOString() });
    // Delete a reservation only as it was read: one rewritten since is not ours to judge.
    const compares: Compare[] = counted.map((e) => ({ key: e.key, modRevisionIs: e.modRevision }));
    const ops: Op[] = [{ put: this.key, value: full, lease: this.lease }, ...counted.map((e) => ({ delete: e.key }))];
    const r = await this.kv.txn(compares, ops);
    if (r.succeeded) this.last = value;
  }

  /** True once withdrawn: the host is leaving and takes no more containers. */
  withdrawn = false;

  /**
   * The host is being evacuated: leave the fleet now, so no other host reserves room
   * here (it would be room on a host about to go). Not undone until a restart.
   */
  async withdraw(): Promise<void> {
    this.withdrawn = true;
    await this.stop();
  }

  /** Deregisters at once (the lease is revoked) rather than waiting for the TTL. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beat;
    if (this.lease) await this.kv.revoke(this.lease).catch(() => undefined);
    this.lease = '';
  }
}
