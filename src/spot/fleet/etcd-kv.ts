// KvStore over etcd v3's JSON gateway (POST /v3/kv/txn, /v3/lease/*), as the peer
// source already reads etcd (no gRPC etcd client among the dependencies; the gateway
// is part of every etcd ≥ 3.4). Keys and values are base64, int64s decimal strings.
// Endpoints are tried in order; an endpoint that fails is skipped for the next call.
import { messageOf } from '../../errors';
import { prefixEnd } from '../peer-source';
import { httpRequest } from '../watchers/http-get';
import type { Compare, KeyValue, KvStore, Op, Snapshot, TxnResult } from './kv';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const b64End = (prefix: string) => Buffer.from(prefixEnd(prefix), 'latin1').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

interface WireKv { key: string; value?: string; mod_revision?: string; lease?: string }
interface TxnReply {
  header?: { revision?: string };
  succeeded?: boolean;
  responses?: Array<{ response_range?: { kvs?: WireKv[] } }>;
}

function compareToWire(c: Compare): Record<string, string> {
  if ('modRevisionIs' in c) return { result: 'EQUAL', target: 'MOD', key: b64(c.key), mod_revision: String(c.modRevisionIs) };
  return { result: 'LESS', target: 'MOD', key: b64(c.key), ...(c.prefix ? { range_end: b64End(c.key) } : {}), mod_revision: String(c.modRevisionBelow) };
}

function opToWire(o: Op): Record<string, unknown> {
  if ('put' in o) return { request_put: { key: b64(o.put), value: b64(o.value), ...(o.lease ? { lease: o.lease } : {}) } };
  return { request_delete_range: { key: b64(o.delete) } };
}

export class EtcdKv implements KvStore {
  private next = 0;
  constructor(private readonly endpoints: readonly string[], private readonly timeoutMs = 2_000) {
    if (!endpoints.length) throw new Error('etcd: no endpoints');
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    const errors: string[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const ep = this.endpoints[(this.next + i) % this.endpoints.length]!;
      try {
        const res = await httpRequest({ url: new URL(path, ep).toString(), method: 'POST', body: JSON.stringify(body), timeoutMs: this.timeoutMs, headers: { 'content-type': 'application/json' } });
        if (res.status !== 200) throw new Error(`HTTP ${res.status} ${res.body.slice(0, 200).replace(/\s+/g, ' ')}`);
        this.next = (this.next + i) % this.endpoints.length;
        return JSON.parse(res.body) as T;
      } catch (err) {
        errors.push(`${ep}: ${messageOf(err)}`);
      }
    }
    throw new Error(`etcd ${path}: ${errors.join('; ')}`);
  }

  async read(prefixes: readonly string[]): Promise<Snapshot> {
    const r = await this.post<TxnReply>('/v3/kv/txn', { success: prefixes.map((p) => ({ request_range: { key: b64(p), range_end: b64End(p) } })) });
    const kvs: KeyValue[] = [];
    for (const resp of r.responses ?? []) {
      for (const kv of resp.response_range?.kvs ?? []) {
        kvs.push({ key: unb64(kv.key), value: unb64(kv.value), modRevision: Number(kv.mod_revision ?? 0), lease: kv.lease && kv.lease !== '0' ? kv.lease : '' });
      }
    }
    return { revision: Number(r.header?.revision ?? 0), kvs };
  }

  async txn(compares: readonly Compare[], ops: readonly Op[]): Promise<TxnResult> {
    const r = await this.post<TxnReply>('/v3/kv/txn', { compare: compares.map(compareToWire), success: ops.map(opToWire) });
    // proto3 JSON leaves out false.
    return { succeeded: r.succeeded === true, revision: Number(r.header?.revision ?? 0) };
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const r = await this.post<{ ID?: string; error?: string }>('/v3/lease/grant', { TTL: Math.ceil(ttlSeconds) });
    if (!r.ID) throw new Error(`etcd lease grant: ${r.error ?? 'no lease id in the reply'}`);
    return r.ID;
  }

  async keepAlive(lease: string): Promise<number> {
    // The gateway turns this bidirectional stream into one request, one reply.
    const r = await this.post<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: lease });
    return Number(r.result?.TTL ?? 0);
  }

  async revoke(lease: string): Promise<void> {
    await this.post('/v3/lease/revoke', { ID: lease });
  }
}
