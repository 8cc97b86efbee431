// The host end of the agent protocol over the virtio-serial chardev socket: sends
// requests and matches replies by id, surfaces output frames and the unsolicited
// `hello` and `exit` messages, and checks every control message against agent.json.
// Stdin goes out within the agent's credit (stdin-credit.ts), so a process that does
// not read its input never stalls the requests and streams behind it.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { RunxError } from '../../errors';
import { log } from '../../log';
import { CallRegistry } from '../wire/call-registry';
import { FrameReader, FrameType, PROTOCOL_VERSION, encodeFrame, execPayload, splitExecPayload } from './agent-frames';
import { type ControlMessage, type FieldValue, controlMessage, decodeControl, encodeControl, field } from './agent-messages';
import { checkControlMessage } from './agent-schema';
import { ReplyParts } from './reply-parts';
import { CreditedStream } from './stdin-credit';

/** Largest stdin frame payload we send (the protocol allows up to MAX_PAYLOAD). */
const STDIN_CHUNK = 64 * 1024;
/** The stream number of the container's own stdin; exec'd processes have theirs. */
const CONTAINER_STDIN = 0;

export interface AgentExit {
  /** Exit code, or undefined when killed by a signal. */
  code?: number;
  signal?: number;
}

interface AgentEvents {
  hello: [ControlMessage];
  stdout: [Buffer];
  stderr: [Buffer];
  exit: [AgentExit];
  /** Output of exec'd process N (docs/protocol/agent.md, exec-stdout/exec-stderr). */
  execStdout: [number, Buffer];
  execStderr: [number, Buffer];
  execExit: [number, AgentExit];
  /** The agent granted n more bytes of stdin credit to stream `exec` (0: the container's). */
  stdinCredit: [number, number];
  protocolError: [string];
  /** A resumed agent's hello did not match (reconnectMismatch): one line; nothing more is sent to it. */
  refused: [string];
  close: [];
  /** A DNS query the container sent to its loopback nameserver: tag, hex bytes (devices/net/dns-relay.ts). */
  dns: [number, string];
}

/** The container's events that must not be lost to a keeper not yet listening (held()). */
type HeldEvent = 'stdout' | 'stderr' | 'exit';
const HELD_EVENTS: ReadonlySet<HeldEvent> = new Set<HeldEvent>(['stdout', 'stderr', 'exit']);

function exitOf(msg: ControlMessage): AgentExit {
  const signal = field(msg, 'signal');
  const code = field(msg, 'code');
  return signal !== undefined ? { signal: Number(signal) } : { code: Number(code ?? 255) };
}

export class AgentConnection extends EventEmitter<AgentEvents> {
  private readonly reader = new FrameReader();
  private readonly calls = new CallRegistry<ControlMessage>('EAGENT');
  private readonly parts = new ReplyParts();
  private readonly stdin = new Map<number, CreditedStream>();
  private closed = false;
  /** Why the connection was dropped, when it was for a protocol error. */
  private dropped?: string;
  /** Why this end stopped talking to the agent (a mismatched hello): requests are refused with it. */
  private refusal?: string;
  /** The agent (name/version) the boot hello named: a later hello must name it again. */
  private bootAgent?: string;
  /** Stdin is held back while the VM is (about to be) stopped: see holdStdin. */
  private stdinHeld = false;
  /** The container's stdin waits for another end to take it over (suspendStdin): the VM's end closing does not drop it. */
  private stdinHandingOff = false;
  /** True once a hello from here on is a reconnect's: after the boot hello, or from the start for a VM that was loaded (restore, migration). */
  private resumed: boolean;
  /** The container's output and exit that came before anyone listened for them: see held(). */
  private unheard: Array<{ event: HeldEvent; args: unknown[] }> = [];

  /** @param opts.resumed the VM was loaded, not booted: its agent lived on, and says no boot hello. */
  constructor(private readonly socket: Socket, opts: { resumed?: boolean } = {}) {
    super();
    this.resumed = opts.resumed === true;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.calls.rejectAll(this.dropped ? `agent connection dropped: ${this.dropped}` : 'agent connection closed');
      // The sent VM's QEMU quits before the stand-in's link takes the container's stdin
      // over: what comes meanwhile waits for it (handOff), not dropped with the socket.
      for (const [exec, stream] of this.stdin) if (!(this.stdinHandingOff && exec === CONTAINER_STDIN)) stream.close();
      this.emit('close');
    });
    socket.on('error', () => { /* close follows */ });
    // Node's own event, outside AgentEvents: hence the untyped view of this emitter.
    (this as EventEmitter).on('newListener', (event: string) => {
      if (!HELD_EVENTS.has(event as HeldEvent) || !this.unheard.length) return;
      // After the listener is added (and the others added with it in the same turn).
      queueMicrotask(() => {
        const now = this.unheard;
        this.unheard = [];
        for (const e of now) this.held(e.event, ...e.args);
      });
    });
  }

  /**
   * Emits the container's output or exit, or keeps it until there is a listener:
   * a loaded VM runs (and its agent sends what it held) from `cont`, before bootVm
   * returns the connection to the keeper that listens; an emit with no listener
   * would drop the first line after a restore. Kept in order, whatever the event.
   */
  private held(event: HeldEvent, ...args: unknown[]): void {
    if (this.unheard.length || this.listenerCount(event) === 0) this.unheard.push({ event, args });
    else (this as EventEmitter).emit(event, ...args);
  }

  /** Sends a request and resolves with the agent's success reply; an `error` reply rejects. */
  request(name: string, fields: Record<string, FieldValue | undefined> | Array<[string, FieldValue]>, timeoutMs = 30_000): Promise<ControlMessage> {
    if (this.refusal) return Promise.reject(new RunxError('EPROTO', this.refusal));
    if (this.closed) return Promise.reject(new RunxError('EAGENT', `${name}: agent connection closed`));
    return this.calls.create(`agent ${name}`, timeoutMs, (id) => {
      const list: Array<[string, FieldValue]> = Array.isArray(fields) ? [...fields] : Object.entries(fields).filter((e): e is [string, FieldValue] => e[1] !== undefined);
      this.sendControl(controlMessage(name, [['id', id], ...list]));
    });
  }

  /**
   * Pings the agent and resumes the container's stdin credit from what its reply says
   * it holds (`held`): after a restore or a migration the agent kept its buffer and
   * what it owes, which a full window would ignore. An agent that says nothing of it
   * (an older build) leaves the credit as it was.
   */
  async ping(): Promise<void> {
    const stream = this.stdinStream();
    const mark = stream.sent;
    const count = stream.count;
    const reply = await this.request('ping', {});
    const held = field(reply, 'held');
    if (held !== undefined) stream.resync(Number(held), mark);
    // Where the stream stands in the agent's own count (agent.md, "Stdin across a migration").
    const rx = field(reply, 'rx');
    if (rx !== undefined) stream.setOrigin(Number(rx), count);
  }

  /**
   * Holds every stdin stream back (those made meanwhile too) until releaseStdin, and
   * resolves once the agent has read all that was sent of them (a ping's round trip:
   * the port is read in order): for a pause or a checkpoint, whose stopped VM would
   * otherwise leave what was still between us and the guest in QEMU, lost with it.
   * False when the agent did not answer within timeoutMs (the hold stays).
   */
  async holdStdin(timeoutMs = 5000): Promise<boolean> {
    this.stdinHeld = true;
    for (const stream of this.stdin.values()) stream.suspend();
    return this.request('ping', {}, timeoutMs).then(() => true, () => false);
  }

  /**
   * Holds every stdin stream back, as holdStdin, without asking the agent: for a VM
   * that has already stopped (a migration's sent VM), whose agent cannot answer and
   * gets nothing more from this end (a stand-in's link takes the stream over).
   */
  suspendStdin(): void {
    this.stdinHeld = true;
    this.stdinHandingOff = true;
    for (const stream of this.stdin.values()) stream.suspend();
  }

  releaseStdin(): void {
    if (!this.stdinHeld) return;
    this.stdinHeld = false;
    this.stdinHandingOff = false;
    if (!this.refusal) for (const stream of this.stdin.values()) stream.unsuspend();
  }

  /** Sends a message that has no reply (`dns-answer`, devices/net/dns-relay.ts). */
  notify(name: string, fields: Record<string, FieldValue | undefined> = {}): void {
    this.sendControl(controlMessage(name, fields));
  }

  /**
   * The container's stdin (exec 0) or exec'd process `exec`'s, sent within the agent's
   * credit: `write` returns false when the caller should pause its source until the
   * stream's 'drain'.
   */
  stdinStream(exec = CONTAINER_STDIN): CreditedStream {
    let stream = this.stdin.get(exec);
    if (!stream) {
      const send = exec === CONTAINER_STDIN
        ? (chunk: Buffer) => this.socket.write(encodeFrame(FrameType.stdin, chunk))
        : (chunk: Buffer) => this.socket.write(encodeFrame(FrameType['exec-stdin'], execPayload(exec, chunk)));
      stream = new CreditedStream(send, STDIN_CHUNK, undefined, exec === CONTAINER_STDIN);
      if (this.closed && !(this.stdinHandingOff && exec === CONTAINER_STDIN)) stream.close();
      else if (this.closed || this.refusal || this.stdinHeld) stream.suspend();
      this.stdin.set(exec, stream);
    }
    return stream;
  }

  /** Exec'd process `exec` has ended: its stdin stream goes. */
  endExecStdin(exec: number): void {
    this.stdin.get(exec)?.close();
    this.stdin.delete(exec);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Why the connection was dropped for a protocol error, if it was. */
  get dropReason(): string | undefined {
    return this.dropped;
  }

  private sendControl(msg: ControlMessage): void {
    const problems = checkControlMessage(msg, 'host');
    if (problems.length) throw new RunxError('EINTERNAL', `agent protocol violation by the host: ${problems.join('; ')}`);
    this.socket.write(encodeFrame(FrameType.control, encodeControl(msg)));
  }

  private onData(chunk: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      // E.g. an agent of another protocol version (an old initramfs, or a VM saved
      // with one): the calls waiting on it say so, not just that it closed.
      this.dropped = (err as Error).message;
      this.emit('protocolError', this.dropped);
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (frame.type === FrameType.stdout) this.held('stdout', frame.payload);
      else if (frame.type === FrameType.stderr) this.held('stderr', frame.payload);
      else if (frame.type === FrameType.control) this.onControl(decodeControl(frame.payload));
      else if (frame.type === FrameType['exec-stdout'] || frame.type === FrameType['exec-stderr']) this.onExecOutput(frame.type, frame.payload);
    }
  }

  private onHello(msg: ControlMessage): void {
    if (this.refusal) return;
    if (this.resumed) {
      const why = reconnectMismatch(msg, this.bootAgent);
      if (why) {
        this.refuse(why);
        return;
      }
    } else {
      // The boot hello: bootVm checks its protocol (checkHello); later ones must match it.
      this.bootAgent = field(msg, 'agent');
      this.resumed = true;
    }
    // Sent before the agent read anything of this connection: all we sent on it is after.
    const held = field(msg, 'held');
    if (held !== undefined) this.stdinStream().resync(Number(held), 0);
    const rx = field(msg, 'rx');
    if (rx !== undefined) this.stdinStream().setOrigin(Number(rx), 0);
    this.emit('hello', msg);
  }

  /**
   * Stops talking to the agent, leaving it (and the container) as it is: waiting
   * requests and every later one fail with `why`, stdin stays queued here.
   */
  private refuse(why: string): void {
    this.refusal = why;
    for (const stream of this.stdin.values()) stream.suspend();
    this.calls.rejectAll(why);
    this.emit('refused', why);
  }

  private onExecOutput(type: number, payload: Buffer): void {
    let out;
    try {
      out = splitExecPayload(payload);
    } catch (err) {
      this.emit('protocolError', (err as Error).message);
      return;
    }
    this.emit(type === FrameType['exec-stdout'] ? 'execStdout' : 'execStderr', out.exec, out.data);
  }

  private onControl(msg: ControlMessage): void {
    const problems = checkControlMessage(msg, 'agent');
    if (problems.length) this.emit('protocolError', problems.join('; '));
    const id = Number(field(msg, 'id'));
    switch (msg.name) {
      case 'hello':
        this.onHello(msg);
        return;
      case 'exit': {
        // The container's writes to its carried binds did not all reach the host.
        const carry = field(msg, 'carry.error');
        if (carry !== undefined) log().error(`the container's carried mounts were not all written back to the host: ${carry}`);
        this.held('exit', exitOf(msg));
        return;
      }
      case 'dns':
        this.emit('dns', Number(field(msg, 'n')), field(msg, 'q') ?? '');
        return;
      case 'exec-exit':
        this.emit('execExit', Number(field(msg, 'exec')), exitOf(msg));
        return;
      case 'credit': {
        const exec = Number(field(msg, 'exec') ?? CONTAINER_STDIN);
        const bytes = Number(field(msg, 'bytes'));
        this.stdin.get(exec)?.grant(bytes);
        this.emit('stdinCredit', exec, bytes);
        return;
      }
      case 'error':
        this.parts.forget(id);
        if (!this.calls.reject(id, new RunxError('EAGENT', field(msg, 'msg') ?? 'agent error'))) {
          this.emit('protocolError', `agent error: ${field(msg, 'msg') ?? ''}`);
        }
        return;
      default: {
        let whole: ControlMessage | undefined;
        try {
          whole = this.parts.add(id, msg);
        } catch (err) {
          this.calls.reject(id, err as Error);
          return;
        }
        if (whole && !this.calls.resolve(id, whole)) this.emit('protocolError', `unexpected "${msg.name}" (id ${id})`);
      }
    }
  }
}

/**
 * Why a reconnecting agent's hello is not the one this host end can go on with, or
 * undefined: it must speak this runx's agent protocol, say which agent it is, and,
 * when the boot hello named one, be that agent (a VM whose agent changed under its
 * keeper is not the VM the keeper holds state for).
 */
export function reconnectMismatch(hello: ControlMessage, bootAgent: string | undefined): string | undefined {
  const proto = field(hello, 'proto');
  const agent = field(hello, 'agent');
  const speaks = `protocol ${proto ?? 'none'}, agent ${agent ?? 'unnamed'}`;
  const refused = 'nothing more is sent to it and the container is left as it is (delete it, or manage it with the runx build that made it)';
  if (proto === undefined || Number(proto) !== PROTOCOL_VERSION) {
    return `the guest agent reconnected speaking ${speaks}, but this runx speaks agent protocol ${PROTOCOL_VERSION}: ${refused}`;
  }
  if (!agent) return `the guest agent reconnected without naming itself (${speaks}): ${refused}`;
  if (bootAgent !== undefined && agent !== bootAgent) {
    return `the guest agent reconnected as ${agent}, but this VM booted ${bootAgent}: ${refused}`;
  }
  return undefined;
}
