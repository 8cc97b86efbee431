// The host process of an exec'd process: it holds the exec stream on keeper.sock
// (docs/protocol/keeper.md) and relays the process's stdio to its own stdio, or to a
// terminal. It lives exactly as long as the exec'd process, forwards the signals it
// gets to it, and exits with its status — which is what `exec --pid-file` promises
// containerd's shim, which supervises and signals this pid.
import net from 'node:net';
import os from 'node:os';
import tty from 'node:tty';
import { RunxError, messageOf } from '../../errors';
import { log } from '../../log';
import { FrameReader, FrameType, encodeFrame } from '../agent/agent-frames';
import type { FieldValue } from '../agent/agent-messages';
import { controlFrame, parseControl } from './exec-stream';
import { KEEPER_PROTOCOL, type KeeperReply, protocolMismatch } from '../keeper/protocol';
import { checkKeeperReply } from '../keeper/keeper-schema';
import { CreditedStream, pausingWriter } from '../agent/stdin-credit';
import { openConsole } from '../keeper/console-socket';
import { type WindowSize, native } from '../host/native';
import { socketPath } from '../state/socket-path';
import { writeAllSync } from '../keeper/write-all';

export interface ExecRelayRequest {
  /** The container's keeper.sock. */
  socket: string;
  /** The agent's `exec` fields, without the exec number (the keeper adds it). */
  fields: Array<[string, FieldValue]>;
  tty: boolean;
  /** With tty: where the terminal's master goes (runc's --console-socket). */
  consoleSocket?: string;
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGCONT', 'SIGWINCH'];

export class ExecRelay {
  /** The exit status of the exec'd process (128+N if killed by signal N). */
  readonly done: Promise<number>;
  private finish!: (status: number) => void;
  private consoleFd?: number;
  private outOpen = true;
  private errOpen = true;
  private restoreTty?: () => void;

  private constructor(private readonly sock: net.Socket, readonly pid: number) {
    this.done = new Promise((resolve) => { this.finish = resolve; });
  }

  /** Starts the process; resolves once it runs in the guest, with its guest pid. */
  static async start(req: ExecRelayRequest): Promise<ExecRelay> {
    const fields = [...req.fields];
    let consoleFd: number | undefined;
    if (req.tty && req.consoleSocket) {
      consoleFd = openConsole(req.consoleSocket);
      const ws = native().getWinsize(consoleFd);
      if (ws.rows && ws.cols) fields.push(['rows', ws.rows], ['cols', ws.cols]);
    } else if (req.tty && process.stdout.isTTY) {
      fields.push(['rows', process.stdout.rows], ['cols', process.stdout.columns]);
    }
    const { sock, pid, rest } = await requestExec(req.socket, fields);
    const relay = new ExecRelay(sock, pid);
    relay.consoleFd = consoleFd;
    relay.wire(req.tty, rest);
    return relay;
  }

  private wire(isTty: boolean, rest: Buffer): void {
    const reader = new FrameReader();
    let exited = false;
    // Within the credit the keeper passes on from the agent (exec-stream.ts).
    const stdin = new CreditedStream((chunk) => this.send(encodeFrame(FrameType.stdin, chunk)), 64 * 1024);
    const onData = (chunk: Buffer) => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (err) {
        log().error(`exec stream: ${messageOf(err)}`);
        this.sock.destroy();
        return;
      }
      for (const f of frames) {
        if (f.type === FrameType.stdout) this.out(f.payload);
        else if (f.type === FrameType.stderr) this.err(f.payload);
        else if (f.type === FrameType.control) {
          const msg = parseControl(f.payload);
          if (msg && 'credit' in msg) stdin.grant(msg.credit);
          else if (msg && 'exit' in msg) {
            exited = true;
            this.end(msg.exit.signal !== undefined ? 128 + msg.exit.signal : msg.exit.code! & 0xff);
          }
        }
      }
    };
    this.sock.on('data', onData);
    this.sock.on('close', () => {
      if (exited) return;
      process.stderr.write('runx exec: the container\'s keeper went away before the process ended\n');
      this.end(255);
    });
    onData(rest);

    const input = this.input(isTty);
    // Out of credit, the rest stays in our source (a pipe's writer then blocks) until
    // the process has taken what went before.
    const write = pausingWriter(input);
    input.on('data', (d: Buffer) => write(stdin, d));
    const eof = () => stdin.write(Buffer.alloc(0));
    input.on('end', eof);
    input.on('error', eof);

    for (const sig of FORWARDED) {
      process.on(sig, () => {
        if (sig === 'SIGWINCH' && isTty) this.resize();
        else this.send(controlFrame({ signal: os.constants.signals[sig] }));
      });
    }
    if (isTty && this.consoleFd === undefined && process.stdout.isTTY) process.stdout.on('resize', () => this.resize());
    // A size set on the console before our SIGWINCH handler existed was not seen.
    if (this.consoleFd !== undefined) this.resize();
  }

  /** Where the process's input comes from: the console's slave, or our stdin (raw if a terminal). */
  private input(isTty: boolean): NodeJS.ReadableStream {
    if (this.consoleFd !== undefined) return new tty.ReadStream(this.consoleFd);
    if (isTty && process.stdin.isTTY) {
      const stdin = process.stdin as tty.ReadStream;
      stdin.setRawMode(true);
      this.restoreTty = () => stdin.setRawMode(false);
    }
    return process.stdin;
  }

  private resize(): void {
    let ws: WindowSize | undefined;
    try {
      ws = this.consoleFd !== undefined ? native().getWinsize(this.consoleFd)
        : process.stdout.isTTY ? { rows: process.stdout.rows, cols: process.stdout.columns } : undefined;
    } catch (err) {
      log().warn(`terminal size: ${messageOf(err)}`);
    }
    if (ws && ws.rows && ws.cols) this.send(controlFrame({ resize: ws }));
  }

  private send(frame: Buffer): void {
    if (!this.sock.destroyed) this.sock.write(frame);
  }

  private out(buf: Buffer): void {
    const fd = this.consoleFd ?? 1;
    if (this.outOpen) this.outOpen = safeWrite(fd, buf);
  }

  private err(buf: Buffer): void {
    if (this.errOpen) this.errOpen = safeWrite(2, buf);
  }

  private end(status: number): void {
    this.restoreTty?.();
    this.finish(status);
  }
}

/** Writes all of buf; false once the reader is gone (EPIPE, or EIO from a closed terminal). */
function safeWrite(fd: number, buf: Buffer): boolean {
  try {
    return writeAllSync(fd, buf);
  } catch {
    return false;
  }
}

export function requestExec(keeperSocket: string, fields: Array<[string, FieldValue]>): Promise<{ sock: net.Socket; pid: number; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath(keeperSocket));
    let head = Buffer.alloc(0);
    const fail = (why: string, code: RunxError['code'] = 'ESTATE') => {
      sock.destroy();
      reject(new RunxError(code, why));
    };
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) return;
      sock.off('data', onData);
      sock.off('close', onClose);
      let reply: KeeperReply<'exec'>;
      try {
        reply = JSON.parse(head.subarray(0, nl).toString('utf8')) as KeeperReply<'exec'>;
      } catch {
        fail('the container\'s keeper sent a malformed reply');
        return;
      }
      if (reply.protocol !== KEEPER_PROTOCOL) {
        fail(protocolMismatch(reply.protocol, KEEPER_PROTOCOL), 'EPROTO');
        return;
      }
      const bad = checkKeeperReply('exec', reply);
      if (bad.length) {
        fail(`the keeper's reply to exec violates docs/protocol/keeper.json: ${bad.join('; ')}`, 'EINTERNAL');
        return;
      }
      if (!reply.ok) {
        fail(reply.error, reply.code);
        return;
      }
      const pid = Number(reply.result?.pid ?? 0);
      resolve({ sock, pid, rest: head.subarray(nl + 1) });
    };
    const onClose = () => fail('the container\'s keeper closed the connection without answering');
    sock.on('connect', () => sock.write(`${JSON.stringify({ op: 'exec', protocol: KEEPER_PROTOCOL, fields })}\n`));
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.on('error', (err) => fail(`cannot reach the container's keeper: ${err.message}`));
  });
}
