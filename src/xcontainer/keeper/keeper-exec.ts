// The keeper's side of `runx exec`: each exec is one connection on keeper.sock that
// stays open for the life of the exec'd process (docs/protocol/keeper.md). The keeper
// numbers the process, asks the agent to start it, and relays its stdio and exit
// between that connection and the agent's exec-* frames. A client that goes away
// before the process ends takes it with it (SIGKILL), as a killed runc exec would.
// The client sends stdin within the agent's credit, which the keeper passes on as
// `credit` control frames, so its stream never backs up behind a process that does
// not read, and its signals and resizes always get through.
import type net from 'node:net';
import { RunxError, messageOf } from '../../errors';
import { log } from '../../log';
import type { AgentConnection, AgentExit } from '../agent/agent-connection';
import { FrameReader, FrameType, encodeFrame } from '../agent/agent-frames';
import type { FieldValue } from '../agent/agent-messages';
import { controlFrame, parseControl } from '../exec-relay/exec-stream';
import { KEEPER_PROTOCOL, type KeeperReply } from './protocol';
import { pausingWriter } from '../agent/stdin-credit';

const SIGKILL = 9;

interface Session {
  sock: net.Socket;
  /**
   * Frames for the client held back until its reply line is written: the agent's
   * output frames can arrive in the same read as its `execd`, whose awaiting code
   * runs only after them.
   */
  held?: Buffer[];
  /** The exit, when it came while frames were held. */
  exit?: AgentExit;
}

export class ExecSessions {
  private next = 1;
  private readonly open = new Map<number, Session>();

  constructor(private readonly agent: AgentConnection) {
    agent.on('execStdout', (n, b) => this.toClient(n, encodeFrame(FrameType.stdout, b)));
    agent.on('execStderr', (n, b) => this.toClient(n, encodeFrame(FrameType.stderr, b)));
    agent.on('execExit', (n, exit) => this.onExit(n, exit));
    agent.on('stdinCredit', (n, bytes) => { if (n !== 0) this.toClient(n, controlFrame({ credit: bytes })); });
  }

  get count(): number {
    return this.open.size;
  }

  /** Serves one exec connection; `rest` is what arrived after the request line. */
  async serve(sock: net.Socket, fields: Array<[string, FieldValue]>, rest: Buffer): Promise<void> {
    const num = this.next++;
    // Registered before the request: the agent's exec-* frames follow its reply at once.
    const session: Session = { sock, held: [] };
    this.open.set(num, session);
    let pid: number;
    try {
      const reply = await this.agent.request('exec', [['exec', num], ...fields]);
      pid = Number(reply.fields.find(([k]) => k === 'pid')?.[1]);
    } catch (err) {
      this.open.delete(num);
      sock.end(`${JSON.stringify({ ok: false, protocol: KEEPER_PROTOCOL, code: err instanceof RunxError ? err.code : 'EAGENT', error: messageOf(err) } satisfies KeeperReply<'exec'>)}\n`);
      return;
    }
    sock.write(`${JSON.stringify({ ok: true, protocol: KEEPER_PROTOCOL, result: { pid } } satisfies KeeperReply<'exec'>)}\n`);
    for (const frame of session.held ?? []) sock.write(frame);
    session.held = undefined;
    if (session.exit) {
      this.onExit(num, session.exit);
      return;
    }
    const reader = new FrameReader();
    const stdin = this.agent.stdinStream(num);
    // Pauses only a client that ignores its credit: its own stream waits, not the agent's.
    const write = pausingWriter(sock);
    const sendStdin = (data: Buffer) => write(stdin, data);
    const onData = (chunk: Buffer) => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (err) {
        log().warn(`exec ${num}: ${messageOf(err)}; closing its stream`);
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (f.type === FrameType.stdin) sendStdin(f.payload);
        else if (f.type === FrameType.control) this.onControl(num, f.payload);
      }
    };
    onData(rest);
    sock.on('data', onData);
    sock.on('close', () => {
      this.agent.endExecStdin(num);
      if (!this.open.delete(num)) return;
      log().info(`exec ${num}: its client went away; killing the process`);
      this.agent.request('kill', { signal: SIGKILL, exec: num }).catch(() => undefined);
    });
  }

  private onControl(num: number, payload: Buffer): void {
    const msg = parseControl(payload);
    const fail = (err: unknown) => log().warn(`exec ${num}: ${messageOf(err)}`);
    if (msg && 'resize' in msg) this.agent.request('resize', { exec: num, ...msg.resize }).catch(fail);
    else if (msg && 'signal' in msg) this.agent.request('kill', { signal: msg.signal, exec: num }).catch(fail);
    else log().warn(`exec ${num}: ignoring a control frame that is not resize or signal`);
  }

  private toClient(num: number, frame: Buffer): void {
    const session = this.open.get(num);
    if (session?.held) session.held.push(frame);
    else session?.sock.write(frame);
  }

  private onExit(num: number, exit: AgentExit): void {
    const session = this.open.get(num);
    if (!session) return;
    if (session.held) {
      session.exit = exit;
      return;
    }
    this.open.delete(num);
    this.agent.endExecStdin(num);
    session.sock.end(controlFrame({ exit }));
  }
}
