// The stand-in's link to its container's keeper, end to end on loopback in the
// migration's TLS-PSK tunnel: output served from the durable log, a link broken
// mid-stream and reconnected (nothing lost, nothing twice), stdin and signals, the
// exit status after the last byte, and a peer without the key refused.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LinkServer, openKeeperLink } from '../../../../src/xcontainer/keeper/keeper-link';
import { OutputLog } from '../../../../src/xcontainer/keeper/output-log';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-link-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const psk = { identity: 'runx-test', keyHex: randomBytes(32).toString('hex') };

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('stand-in link', () => {
  it('brings every byte once, in order, across broken connections, then the exit status', async () => {
    const out = new OutputLog(dir, 1 << 20);
    const stdin: Buffer[] = [];
    const signals: number[] = [];
    const sockets = new Set<net.Socket>();
    const server = new LinkServer(out, dir, psk, { stdin: (b, s) => { sockets.add(s); stdin.push(b); }, signal: (n) => signals.push(n) });
    const port = await freePort();
    await server.listen('127.0.0.1', port);
    let got = '';
    let status: number | undefined;
    let lost: string | undefined;
    const link = openKeeperLink({ host: '127.0.0.1', port, tls: psk }, {
      stdout: (b) => { got += b.toString(); },
      stderr: (b) => { got += b.toString(); },
      exitStatus: (s) => { status = s; },
      lost: (why) => { lost = why; },
    }, { reconnectMs: 20_000 });
    let expected = '';
    const write = (n: number, from: number) => {
      for (let i = from; i < from + n; i++) {
        const line = `${i}\n`;
        out.append(i % 3 ? 'stdout' : 'stderr', Buffer.from(line));
        expected += line;
      }
    };
    write(2000, 0);
    await until(() => got.length > 100);
    link.stdin(Buffer.from('in'));
    link.signal(15);
    await until(() => stdin.length === 1 && signals.length === 1);
    // break the link mid-stream, three times, writing meanwhile
    for (let round = 0; round < 3; round++) {
      for (const s of sockets) s.destroy();
      write(3000, 2000 + round * 3000);
      link.stdin(Buffer.from(`more${round}`));
      await until(() => stdin.length === 2 + round);
    }
    const ended = server.end(3, 10_000);
    await until(() => status !== undefined);
    await ended;
    expect(lost).toBeUndefined();
    expect(status).toBe(3);
    expect(got).toBe(expected);
    expect(stdin.map((b) => b.toString())).toEqual(['in', 'more0', 'more1', 'more2']);
    expect(signals).toEqual([15]);
    link.close();
  });

  it('resuming a stream, resends only the tail the guest here never read, then what waited', async () => {
    const out = new OutputLog(dir, 1 << 20);
    const stdin: Buffer[] = [];
    const server = new LinkServer(out, dir, psk, { stdin: (b) => stdin.push(b), signal: () => undefined });
    // The guest here had read 1000 + 5 bytes of the stream: "abcde" of the chunk from 1000 got in.
    server.startStdinAt(1005);
    const port = await freePort();
    await server.listen('127.0.0.1', port);
    const recent = [{ end: 1000, data: Buffer.from('x'.repeat(1000)) }, { end: 1010, data: Buffer.from('abcdefghij') }];
    const link = openKeeperLink({ host: '127.0.0.1', port, tls: psk }, {
      stdout: () => undefined, stderr: () => undefined, exitStatus: () => undefined, lost: () => undefined,
    }, { reconnectMs: 5_000, stdin: { offset: 1010, recent } });
    link.stdin(Buffer.from('then'));
    link.stdin(Buffer.alloc(0));
    await until(() => stdin.length === 3);
    expect(stdin.map((b) => b.toString())).toEqual(['fghij', 'then', '']);
    link.close();
    await server.end(0, 100);
  });

  it('refuses a peer without the key: it reads nothing', async () => {
    const out = new OutputLog(dir, 1 << 20);
    out.append('stdout', Buffer.from('secret output'));
    const server = new LinkServer(out, dir, psk, { stdin: () => undefined, signal: () => undefined });
    const port = await freePort();
    await server.listen('127.0.0.1', port);
    const wrong = { identity: psk.identity, keyHex: randomBytes(32).toString('hex') };
    const seen: Buffer[] = [];
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ciphers: 'ECDHE-PSK-CHACHA20-POLY1305', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2',
        pskCallback: () => ({ psk: Buffer.from(wrong.keyHex, 'hex'), identity: wrong.identity }), checkServerIdentity: () => undefined });
      s.on('data', (b: Buffer) => seen.push(b));
      s.on('error', (e) => resolve(e.message));
      s.on('close', () => resolve('closed'));
    });
    expect(outcome).not.toBe('');
    expect(Buffer.concat(seen).includes('secret')).toBe(false);
    await server.end(0, 100);
  });
});
