// The DNS relay's TCP fallback against a resolver this test runs on 127.0.0.1 (UDP and
// TCP on one port): a truncated UDP answer is asked again over TCP, 2-byte length
// prefixes both ways, and the whole answer reaches the agent.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GUEST_ANSWER_MAX, relayDns } from '../../../../src/xcontainer/devices/net/dns-relay';

/** A query for `name` (type TXT), id 0x1234. */
function query(name: string): Buffer {
  const labels = Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  return Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), labels, Buffer.from([0, 16, 0, 1])]);
}

/** An answer of `size` bytes to q: its header with QR (and TC when asked), then filler. */
function answer(q: Buffer, size: number, tc: boolean): Buffer {
  const a = Buffer.alloc(Math.max(size, q.length), 0x61);
  q.copy(a);
  a[2] = 0x81 | (tc ? 0x02 : 0);
  a[3] = 0x80;
  return a;
}

interface Resolver { port: number; tcpQueries: Buffer[]; close(): void }

/** big: the TCP answer's size; small names get a small UDP answer, others a truncated one. */
async function resolver(big: number, tcp: 'answer' | 'close'): Promise<Resolver> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = udp.address().port;
    const tcpQueries: Buffer[] = [];
    const srv = net.createServer((c) => {
      let got = Buffer.alloc(0);
      c.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length < 2 || got.length < 2 + got.readUInt16BE(0)) return;
        const q = got.subarray(2, 2 + got.readUInt16BE(0));
        tcpQueries.push(q);
        if (tcp === 'close') return void c.destroy();
        const a = answer(q, big, false);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        // In two writes, as a stream may deliver it.
        c.write(Buffer.concat([len, a.subarray(0, 100)]));
        setTimeout(() => c.end(a.subarray(100)), 20);
      });
      c.on('error', () => undefined);
    });
    const ok = await new Promise<boolean>((r) => {
      srv.once('error', () => r(false));
      srv.listen(port, '127.0.0.1', () => r(true));
    });
    if (!ok) {
      udp.close();
      continue;
    }
    udp.on('message', (q, from) => {
      const small = q.includes(Buffer.from('small'));
      udp.send(small ? answer(q, 60, false) : answer(q, 512, true), from.port, from.address);
    });
    return { port, tcpQueries, close: () => { udp.close(); srv.close(); } };
  }
  throw new Error('no free port for both UDP and TCP');
}

class FakeAgent extends EventEmitter {
  readonly answers = new Map<number, Buffer>();
  notify(_name: 'dns-answer', f: { n: number; a: string }): void {
    this.answers.set(f.n, Buffer.from(f.a, 'hex'));
    this.emit('answer', f.n);
  }
  ask(tag: number, q: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ${tag}`)), 4000);
      this.on('answer', (n: number) => {
        if (n !== tag) return;
        clearTimeout(t);
        resolve(this.answers.get(tag)!);
      });
      this.emit('dns', tag, q.toString('hex'));
    });
  }
}

describe('DNS relay over TCP', () => {
  let r: Resolver | undefined;
  afterEach(() => r?.close());

  it('passes a small UDP answer through, and asks a truncated one again over TCP', async () => {
    r = await resolver(1800, 'answer');
    const agent = new FakeAgent();
    relayDns(agent, '127.0.0.1', r.port);
    const small = await agent.ask(1, query('small.test'));
    expect(small.length).toBe(60);
    expect(r.tcpQueries).toHaveLength(0);
    const q = query('big.example.test');
    const big = await agent.ask(2, q);
    // the whole answer, over 512 bytes, without TC; the server got the query as sent
    expect(big.length).toBe(1800);
    expect(big[2] & 0x02).toBe(0);
    expect(big.readUInt16BE(0)).toBe(0x1234);
    expect(r.tcpQueries).toHaveLength(1);
    expect(r.tcpQueries[0].equals(q)).toBe(true);
  });

  it('hands back the truncated answer when the TCP one is too large for the guest or TCP fails', async () => {
    r = await resolver(GUEST_ANSWER_MAX + 1, 'answer');
    const agent = new FakeAgent();
    relayDns(agent, '127.0.0.1', r.port);
    const a = await agent.ask(3, query('huge.test'));
    expect(a.length).toBe(512);
    expect(a[2] & 0x02).toBe(0x02);
    r.close();
    r = await resolver(1800, 'close');
    const agent2 = new FakeAgent();
    relayDns(agent2, '127.0.0.1', r.port);
    const b = await agent2.ask(4, query('big.test'));
    expect(b.length).toBe(512);
    expect(b[2] & 0x02).toBe(0x02);
    expect(r.tcpQueries).toHaveLength(1);
  });
});
