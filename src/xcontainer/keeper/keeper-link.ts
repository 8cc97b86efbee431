// The stand-in's link straight to the keeper of the host its container moved to: no
// `runx serve` in the path (issue #21.9), so that service may go away after the
// switch-over without taking the container's stdio, signals or exit status with it.
// The destination keeper listens on the port its Prepare reply named (linkPort), in
// the same TLS-PSK tunnel as the migration's streams, keyed by that migration's key
// (stream-tunnel.ts): only the source keeper has it. Frames: type (u8), length (u32
// BE), payload (docs/protocol/keeper.md, "The stand-in's link").
//
// Output is served from the destination's durable log (output-log.ts), never from
// memory: a stand-in that is slow, stopped or cut off costs the destination one chunk
// and a socket's buffer, and the rest waits on disk, in the ring (issue #21.12). The
// stand-in says from which offset it wants output (what it has written so far) each
// time it connects, so after a broken link it gets exactly what it had not written:
// nothing lost, nothing twice. Only when it stays away for longer than the ring holds
// does it get a gap, which it is told of (AT) and logs.
import type net from 'node:net';
import type tls from 'node:tls';
import { log } from '../../log';
import { tunnelConnect, tunnelServer } from '../vm/stream-tunnel';
import type { PskCreds } from '../vm/tls-creds';
import { LogReader, type OutputLog } from './output-log';
import type { RemoteLink, RemoteLinkSinks, StdinResume } from './remote-link';

export const LINK = {
  // stand-in -> keeper
  HELLO: 1, // JSON {"from": offset[, "stdin": offset]}: the first frame of each connection
  STDIN: 2, // bytes; empty: EOF
  SIGNAL: 3, // u32 signal number
  // keeper -> stand-in
  AT: 10, // u64: the offset the next output byte has (a gap, if above the stand-in's)
  STDOUT: 11,
  STDERR: 12,
  EXIT: 13, // u32 status, after the last output byte
  STDIN_AT: 14, // u64: stdin received so far (EOF counts 1, in the container's stream offsets when the stand-in's hello had `stdin`): at each connection, then every 64 KiB
} as const;

const MAX_FRAME = 1024 * 1024;
const CHUNK = 64 * 1024;

export function frame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.allocUnsafe(5);
  h[0] = type;
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

/** Splits a byte stream into frames; calls `bad` on one that cannot be. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (type: number, payload: Buffer) => void, private readonly bad: (why: string) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (len > MAX_FRAME) {
        this.bad(`a frame of ${len} bytes`);
        return;
      }
      if (this.buf.length < 5 + len) return;
      const type = this.buf[0]!;
      const payload = this.buf.subarray(5, 5 + len);
      this.buf = this.buf.subarray(5 + len);
      this.onFrame(type, payload);
    }
  }
}

/** What the link server needs of its keeper. */
export interface LinkServerPort {
  stdin(data: Buffer, source: net.Socket): void;
  signal(sig: number): void;
}

/** The destination keeper's end: one stand-in at a time (a new connection replaces the old). */
export class LinkServer {
  private readonly server: tls.Server;
  private current?: { sock: net.Socket; reader: LogReader; exitSent: boolean; stop(): void };
  private exitStatus?: number;
  private exitDelivered?: () => void;
  /** Stdin taken so far, over every connection (EOF counts 1): a stand-in resends from there. */
  private stdinReceived = 0;
  private stdinAcked = 0;
  /** Where the container's stdin stream stood in the guest here (its agent's `rx`), before any stand-in came. */
  private stdinBase?: number;
  private attachedOnce = false;

  constructor(private readonly out: OutputLog, private readonly dir: string, psk: PskCreds, private readonly port: LinkServerPort) {
    this.server = tunnelServer(psk, (sock) => this.accept(sock));
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        this.server.on('error', (err) => log().debug(`stand-in link: ${err.message}`));
        resolve();
      });
    });
  }

  /**
   * The container (or this keeper's part in it) has ended with `status`: resolves once
   * a stand-in has had all output and the status, or after `lingerMs` without one.
   */
  end(status: number, lingerMs: number): Promise<void> {
    this.exitStatus = status;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        log().warn(`no stand-in took the container's exit status within ${lingerMs / 1000} s`);
        done();
      }, lingerMs);
      const done = () => {
        clearTimeout(timer);
        this.server.close();
        this.current?.stop();
        resolve();
      };
      this.exitDelivered = done;
      this.pump();
    });
  }

  /**
   * The guest here had read `n` of the container's stdin stream when it came in: a
   * stand-in that counts in stream offsets (its hello's `stdin`) resends from there
   * what never reached the guest (agent.md, "Stdin across a migration").
   */
  startStdinAt(n: number): void {
    if (!this.attachedOnce && Number.isSafeInteger(n) && n >= 0) this.stdinBase = n;
  }

  /** Stops waiting for a stand-in (its container is being deleted here). */
  cut(): void {
    this.exitDelivered?.();
  }

  private accept(sock: net.Socket): void {
    let hello = false;
    const frames = new FrameReader((type, payload) => {
      if (!hello) {
        if (type !== LINK.HELLO) {
          sock.destroy();
          return;
        }
        hello = true;
        let from = 0;
        let stdinFrom: number | undefined;
        try {
          const h = JSON.parse(payload.toString('utf8')) as { from?: unknown; stdin?: unknown };
          from = Number(h.from) || 0;
          if (typeof h.stdin === 'number' && Number.isSafeInteger(h.stdin) && h.stdin >= 0) stdinFrom = h.stdin;
        } catch { /* from the start */ }
        this.attach(sock, from, stdinFrom);
        return;
      }
      if (this.current?.sock !== sock) return;
      if (type === LINK.STDIN) {
        this.stdinReceived += Math.max(1, payload.length);
        this.port.stdin(payload, sock);
        if (this.stdinReceived - this.stdinAcked >= CHUNK) this.ackStdin(sock);
      }
      else if (type === LINK.SIGNAL && payload.length === 4) this.port.signal(payload.readUInt32BE(0));
    }, (why) => {
      log().debug(`stand-in link: ${why}`);
      sock.destroy();
    });
    sock.on('data', (c: Buffer) => frames.push(c));
    sock.on('end', () => sock.destroy());
    sock.on('error', (err) => log().debug(`stand-in link: ${err.message}`));
  }

  private attach(sock: net.Socket, from: number, stdinFrom?: number): void {
    this.current?.stop();
    if (!this.attachedOnce && stdinFrom !== undefined) {
      // The first stand-in counts in stream offsets: ours start where the guest had got
      // to, or, had it not said, where the stand-in had (what was in flight is then lost).
      this.stdinReceived = this.stdinAcked = this.stdinBase ?? stdinFrom;
    }
    this.attachedOnce = true;
    const reader = new LogReader(this.dir, from);
    const onAppend = () => this.pump();
    const cur = {
      sock,
      reader,
      exitSent: false,
      stop: () => {
        this.out.off('append', onAppend);
        reader.close();
        sock.destroy();
        if (this.current === cur) this.current = undefined;
      },
    };
    this.current = cur;
    this.out.on('append', onAppend);
    sock.on('drain', onAppend);
    sock.on('close', () => {
      if (this.current === cur) cur.stop();
    });
    // Where its output starts (the stand-in learns of a gap at once), and where its stdin goes on.
    sock.write(frame(LINK.AT, u64(from)));
    this.ackStdin(sock);
    log().info(`stand-in attached, output from offset ${from}`);
    this.pump();
  }

  private ackStdin(sock: net.Socket): void {
    this.stdinAcked = this.stdinReceived;
    sock.write(frame(LINK.STDIN_AT, u64(this.stdinReceived)));
  }

  /** Sends from the log while the socket takes it; the rest waits there. */
  private pump(): void {
    const cur = this.current;
    if (!cur || cur.sock.destroyed || cur.exitSent) return;
    for (;;) {
      if (cur.sock.writableNeedDrain) return;
      const { records, gap } = cur.reader.read(CHUNK);
      if (gap) {
        log().warn(`stand-in link: ${gap.to - gap.from} bytes of output were overwritten in the log before the stand-in took them`);
        cur.sock.write(frame(LINK.AT, u64(gap.to)));
      }
      if (!records.length) break;
      for (const r of records) cur.sock.write(frame(r.stream === 'stdout' ? LINK.STDOUT : LINK.STDERR, r.data));
    }
    if (this.exitStatus !== undefined && cur.reader.offset >= this.out.end) {
      const status = Buffer.alloc(4);
      status.writeUInt32BE(this.exitStatus >>> 0, 0);
      // Delivered once the stand-in closes its end after reading it.
      cur.sock.write(frame(LINK.EXIT, status));
      cur.sock.once('close', () => this.exitDelivered?.());
      cur.sock.end();
      cur.exitSent = true;
    }
  }
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n), 0);
  return b;
}

export interface KeeperLinkTarget {
  host: string;
  port: number;
  tls: PskCreds;
}

/** How long a stand-in goes on trying to reach a keeper it lost, by default. */
const DEFAULT_RECONNECT_MS = 120_000;
/**
 * Stdin held until the keeper has it (sent, not yet acknowledged, or waiting for the
 * link); beyond it, stdin is dropped (with a warning). Room for a resume's tail (up
 * to the agent's 1 MiB window) and what waited at the source meanwhile.
 */
const MAX_PENDING_STDIN = 4 * 1024 * 1024;

export interface KeeperLinkOptions {
  /** How long to go on trying after a break (ms); default RUNX_LINK_RECONNECT_MS or 120 s. */
  reconnectMs?: number;
  /** The container's stdin stream, taken over from the source's agent: the link counts in its offsets and resends its tail. */
  stdin?: StdinResume;
}

/**
 * The stand-in's end: connects, and after a break reconnects with backoff (100 ms
 * doubling to 2 s) for up to RUNX_LINK_RECONNECT_MS (default 120 s) since the break;
 * then `lost`. Output comes to the sinks exactly once, in order.
 */
export function openKeeperLink(target: KeeperLinkTarget, sinks: RemoteLinkSinks, opts: KeeperLinkOptions = {}): RemoteLink & { readonly offset: number } {
  const reconnectMs = opts.reconnectMs ?? (Number(process.env.RUNX_LINK_RECONNECT_MS) || DEFAULT_RECONNECT_MS);
  let offset = 0;
  let sock: net.Socket | undefined;
  let ready = false;
  let closed = false;
  let brokenSince: number | undefined;
  let backoff = 100;
  let timer: NodeJS.Timeout | undefined;
  // Stdin not yet acknowledged by the keeper, each chunk with the count it ends at:
  // after a break it is sent again from where the keeper says it got to.
  // A resume starts with what the source's agent may not have passed to the guest: the
  // keeper's first STDIN_AT (where the guest there got to) trims it to what never did.
  const unacked: Array<{ end: number; data: Buffer }> = [...opts.stdin?.recent ?? []];
  let stdinSent = opts.stdin?.offset ?? 0;
  let unackedBytes = unacked.reduce((n, u) => n + u.data.length, 0);
  let warnedDrop = false;

  const sendStdin = (data: Buffer) => {
    if (unackedBytes + data.length > MAX_PENDING_STDIN) {
      if (!warnedDrop) log().warn(`stand-in link: the keeper is not taking stdin; dropping stdin beyond ${MAX_PENDING_STDIN} bytes`);
      warnedDrop = true;
      return;
    }
    stdinSent += Math.max(1, data.length);
    unacked.push({ end: stdinSent, data });
    unackedBytes += data.length;
    if (sock && ready) sock.write(frame(LINK.STDIN, data));
  };
  const acked = (n: number) => {
    while (unacked.length && unacked[0]!.end <= n) unackedBytes -= unacked.shift()!.data.length;
    if (unackedBytes < MAX_PENDING_STDIN) warnedDrop = false;
  };

  const connect = () => {
    timer = undefined;
    if (closed) return;
    const s = tunnelConnect({ host: target.host, port: target.port }, target.tls);
    sock = s;
    ready = false;
    let exited = false;
    const frames = new FrameReader((type, payload) => {
      if (closed) return;
      if (type === LINK.STDIN_AT && payload.length === 8) {
        const n = Number(payload.readBigUInt64BE(0));
        acked(n);
        if (!ready) {
          // The first after our hello: the keeper's stdin goes on from n.
          ready = true;
          for (const u of unacked) {
            const start = u.end - Math.max(1, u.data.length);
            s.write(frame(LINK.STDIN, start < n && u.data.length ? u.data.subarray(n - start) : u.data));
          }
        }
      } else if (type === LINK.AT && payload.length === 8) {
        const at = Number(payload.readBigUInt64BE(0));
        if (at > offset) log().warn(`stand-in link: ${at - offset} bytes of the container's output were lost at the other host (its log went round)`);
        if (at > offset) offset = at;
      } else if (type === LINK.STDOUT || type === LINK.STDERR) {
        offset += payload.length;
        if (type === LINK.STDOUT) sinks.stdout(Buffer.from(payload));
        else sinks.stderr(Buffer.from(payload));
      } else if (type === LINK.EXIT && payload.length === 4) {
        exited = true;
        closed = true;
        s.end();
        sinks.exitStatus(payload.readUInt32BE(0));
      }
    }, (why) => s.destroy(new Error(why)));
    s.on('secureConnect', () => {
      brokenSince = undefined;
      backoff = 100;
      const hello = opts.stdin ? { from: offset, stdin: opts.stdin.offset } : { from: offset };
      s.write(frame(LINK.HELLO, Buffer.from(JSON.stringify(hello))));
    });
    s.on('data', (c: Buffer) => frames.push(c));
    // The tunnel's sockets allow half-open (QEMU's streams need it); this link does not.
    s.on('end', () => s.destroy());
    s.on('error', (err) => log().debug(`stand-in link to ${target.host}:${target.port}: ${err.message}`));
    s.on('close', () => {
      if (sock === s) sock = undefined;
      if (closed || exited) return;
      brokenSince ??= Date.now();
      if (Date.now() - brokenSince > reconnectMs) {
        closed = true;
        sinks.lost(`lost the link to the keeper at ${target.host}:${target.port} for ${Math.round(reconnectMs / 1000)} s`);
        return;
      }
      log().debug(`stand-in link broken; reconnecting in ${backoff} ms`);
      timer = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 2000);
    });
  };
  connect();

  return {
    get offset() {
      return offset;
    },
    stdin: (data) => sendStdin(data),
    // At most once: a signal sent into a link that breaks is lost, as one to a process that just ended.
    signal: (sig) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(sig, 0);
      if (sock && ready) sock.write(frame(LINK.SIGNAL, b));
      else log().warn(`stand-in link down: signal ${sig} not delivered`);
    },
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      sock?.destroy();
    },
  };
}
