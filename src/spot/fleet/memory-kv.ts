// An in-memory KvStore with etcd's semantics, for the simulator (and unit tests):
// one global revision bumped by every write, per-key mod revisions, leases that
// expire on the store's clock (`now`, so a simulation moves time itself), and
// all-or-nothing transactions. Calls resolve asynchronously, so concurrent
// evacuations interleave between their read and their transaction as they would
// against a real etcd.
import type { Compare, KeyValue, KvStore, Op, Snapshot, TxnResult } from './kv';

export class MemoryKv implements KvStore {
  private revision = 1;
  private readonly data = new Map<string, KeyValue>();
  private readonly leases = new Map<string, { ttlMs: number; expiresAt: number }>();
  private nextLease = 1;
  /** Calls served, by kind: the simulator reports the store's load from these. */
  readonly calls = { read: 0, txn: 0, txnFailed: 0, lease: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  private expire(): void {
    const t = this.now();
    for (const [id, l] of this.leases) {
      if (l.expiresAt > t) continue;
      this.leases.delete(id);
      let any = false;
      for (const [k, kv] of this.data) if (kv.lease === id) { this.data.delete(k); any = true; }
      if (any) this.revision++;
    }
  }

  private async tick(): Promise<void> {
    await Promise.resolve();
    this.expire();
  }

  private cached?: { revision: number; prefixes: string; kvs: KeyValue[] };

  /**
   * Hosts of a simulated fleet read the same revision many times over: a snapshot is
   * built once per revision and shared, frozen, so no reader can change another's.
   */
  async read(prefixes: readonly string[]): Promise<Snapshot> {
    await this.tick();
    this.calls.read++;
    const key = prefixes.join('\0');
    if (this.cached?.revision === this.revision && this.cached.prefixes === key) return { revision: this.revision, kvs: this.cached.kvs };
    const kvs = [...this.data.values()].filter((kv) => prefixes.some((p) => kv.key.startsWith(p))).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((kv) => Object.freeze({ ...kv }));
    Object.freeze(kvs);
    this.cached = { revision: this.revision, prefixes: key, kvs };
    return { revision: this.revision, kvs };
  }

  private holds(c: Compare): boolean {
    if ('modRevisionIs' in c) return (this.data.get(c.key)?.modRevision ?? 0) === c.modRevisionIs;
    if (!c.prefix) return (this.data.get(c.key)?.modRevision ?? 0) < c.modRevisionBelow;
    for (const kv of this.data.values()) if (kv.key.startsWith(c.key) && kv.modRevision >= c.modRevisionBelow) return false;
    return true;
  }

  async txn(compares: readonly Compare[], ops: readonly Op[]): Promise<TxnResult> {
    await this.tick();
    this.calls.txn++;
    if (!compares.every((c) => this.holds(c))) { this.calls.txnFailed++; return { succeeded: false, revision: this.revision }; }
    for (const o of ops) if ('put' in o && o.lease && !this.leases.has(o.lease)) throw new Error(`etcd: requested lease not found`);
    if (ops.length) this.revision++;
    for (const o of ops) {
      if ('put' in o) this.data.set(o.put, { key: o.put, value: o.value, modRevision: this.revision, lease: o.lease ?? '' });
      else this.data.delete(o.delete);
    }
    return { succeeded: true, revision: this.revision };
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    await this.tick();
    this.calls.lease++;
    const id = String(this.nextLease++);
    this.leases.set(id, { ttlMs: ttlSeconds * 1000, expiresAt: this.now() + ttlSeconds * 1000 });
    return id;
  }

  async keepAlive(lease: string): Promise<number> {
    await this.tick();
    this.calls.lease++;
    const l = this.leases.get(lease);
    if (!l) return 0;
    l.expiresAt = this.now() + l.ttlMs;
    return l.ttlMs / 1000;
  }

  async revoke(lease: string): Promise<void> {
    await this.tick();
    const l = this.leases.get(lease);
    if (l) { l.expiresAt = -Infinity; this.expire(); }
  }
}
