// The slice of etcd v3 the fleet code (registry, reservations) needs, as an interface,
// so the daemon runs it against a real etcd (etcd-kv.ts) and the simulator against an
// in-memory store with the same semantics (memory-kv.ts): keys carry a mod revision
// and an optional lease; a transaction's compares are all-or-nothing, as etcd's are.
export interface KeyValue {
  key: string;
  value: string;
  modRevision: number;
  /** Lease id ('' when none); etcd's are int64, kept as decimal strings. */
  lease: string;
}

/**
 * One compare of a transaction. `prefix`: the compare holds for every key under
 * `key` (etcd's range_end); an absent key counts as mod revision 0.
 */
export type Compare =
  | { key: string; prefix?: boolean; modRevisionBelow: number }
  | { key: string; modRevisionIs: number };

export type Op =
  | { put: string; value: string; lease?: string }
  | { delete: string };

export interface Snapshot {
  revision: number;
  /** Every key under each prefix asked for, at `revision`; read-only (a store may share it between readers). */
  kvs: readonly KeyValue[];
}

export interface TxnResult { succeeded: boolean; revision: number }

export interface KvStore {
  /** Reads all keys under each prefix in one consistent snapshot. */
  read(prefixes: readonly string[]): Promise<Snapshot>;
  /** Applies `ops` if every compare holds; `revision` is then the ops' mod revision. */
  txn(compares: readonly Compare[], ops: readonly Op[]): Promise<TxnResult>;
  grantLease(ttlSeconds: number): Promise<string>;
  /** Resolves the remaining TTL, or 0 when the lease is gone (expired or revoked). */
  keepAlive(lease: string): Promise<number>;
  revoke(lease: string): Promise<void>;
}
