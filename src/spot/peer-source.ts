// Where the daemon's peers come from: the config's static list by default, or an etcd
// registry (etcd v3's JSON gateway, POST /v3/kv/range over a key prefix; each value a
// peer as JSON) when `etcd` is configured. If etcd cannot be read, the last good list
// stays in use and a warning is logged; a home-made membership protocol is not used.
import type { Logger } from 'pino';
import { messageOf } from '../errors';
import type { PeerConfig } from './config';
import { httpRequest } from './watchers/http-get';

export interface PeerSource {
  peers(): Promise<PeerConfig[]>;
}

export class StaticPeers implements PeerSource {
  constructor(private readonly list: PeerConfig[]) {}
  async peers(): Promise<PeerConfig[]> { return this.list; }
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The key just past every key with this prefix (etcd's range_end convention). */
export function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) { const out = b.subarray(0, i + 1); out[i]! += 1; return out.toString('latin1'); }
  }
  return '\0';
}

export class EtcdPeers implements PeerSource {
  private last: PeerConfig[] = [];
  constructor(
    private readonly endpoints: string[],
    private readonly prefix: string,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly timeoutMs = 2_000,
  ) {}

  async peers(): Promise<PeerConfig[]> {
    const body = JSON.stringify({ key: b64(this.prefix), range_end: Buffer.from(prefixEnd(this.prefix), 'latin1').toString('base64') });
    for (const ep of this.endpoints) {
      try {
        const res = await httpRequest({ url: new URL('/v3/kv/range', ep).toString(), method: 'POST', body, timeoutMs: this.timeoutMs, headers: { 'content-type': 'application/json' } });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        const kvs = (JSON.parse(res.body) as { kvs?: Array<{ key: string; value: string }> }).kvs ?? [];
        const out: PeerConfig[] = [];
        for (const kv of kvs) {
          try {
            const p = JSON.parse(Buffer.from(kv.value, 'base64').toString('utf8')) as PeerConfig;
            if (typeof p.name === 'string' && typeof p.address === 'string' && (p.market === 'spot' || p.market === 'on-demand') && typeof p.price === 'number') out.push(p);
            else throw new Error('not a peer');
          } catch {
            this.logger.warn({ key: Buffer.from(kv.key, 'base64').toString('utf8') }, 'etcd: skipping an entry that is not a peer');
          }
        }
        this.last = out;
        return out;
      } catch (err) {
        this.logger.warn({ endpoint: ep }, `etcd: cannot read peers: ${messageOf(err)}`);
      }
    }
    return this.last;
  }
}
