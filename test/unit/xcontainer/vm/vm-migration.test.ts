import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Relay, tcpTarget } from '../../../../src/xcontainer/vm/vm-migration';

describe('migration targets', () => {
  it('reads host and port from the TCP and NBD URIs runx builds', () => {
    expect(tcpTarget('tcp:10.0.0.2:4444')).toEqual({ host: '10.0.0.2', port: 4444 });
    expect(tcpTarget('nbd://10.0.0.2:10809/root')).toEqual({ host: '10.0.0.2', port: 10809 });
    expect(tcpTarget('nbd://[fd00::2]:10809/root')).toEqual({ host: 'fd00::2', port: 10809 });
    expect(() => tcpTarget('unix:/x.sock')).toThrow(/not a TCP migration target/);
  });
});

describe('the keeper relay between a unix socket and TCP', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => { for (const c of cleanups.splice(0)) c(); });

  async function tcpServer(onConn: (s: net.Socket) => void): Promise<number> {
    const srv = net.createServer({ allowHalfOpen: true }, onConn);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => srv.close());
    return (srv.address() as net.AddressInfo).port;
  }

  function tmpSock(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-relay-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    return path.join(dir, 'r.sock');
  }

  it('carries both directions and each end of stream, as QEMU half-closes', async () => {
    // The far end reads everything, then answers with what it got, then ends.
    const port = await tcpServer((s) => {
      let got = '';
      s.on('data', (d) => { got += d.toString(); });
      s.on('end', () => s.end(`got ${got.length} bytes`));
    });
    const relay = new Relay();
    cleanups.push(() => relay.close(true));
    const sock = tmpSock();
    await relay.listen({ path: sock }, () => net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }));
    const c = net.connect({ path: sock, allowHalfOpen: true });
    const reply = await new Promise<string>((resolve, reject) => {
      let r = '';
      c.on('data', (d) => { r += d.toString(); });
      c.on('end', () => resolve(r));
      c.on('error', reject);
      c.end(Buffer.alloc(1 << 20, 7));
    });
    expect(reply).toBe(`got ${1 << 20} bytes`);
  });

  it('breaks the pair when the far end fails, so QEMU sees the stream fail', async () => {
    const port = await tcpServer((s) => s.resetAndDestroy());
    const relay = new Relay();
    cleanups.push(() => relay.close(true));
    const sock = tmpSock();
    await relay.listen({ path: sock }, () => net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }));
    // A unix socket has no reset: the relay closes it, QEMU reads its end (and a
    // write would fail with EPIPE).
    const c = net.connect({ path: sock, allowHalfOpen: true });
    c.on('error', () => undefined);
    let data = 0;
    c.on('data', (d) => { data += d.length; });
    await new Promise<void>((resolve) => c.on('end', () => resolve()));
    expect(data).toBe(0);
  });
});
