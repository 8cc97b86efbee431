// The host end of the agent protocol over the virtio-serial chardev socket: sends
// requests and matches replies by id, surfaces output frames and the unsolicited
// `hello` and `exit` messages, and checks every control message against agent.json.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { RunxError } from '../../errors';
import { CallRegistry } from '../wire/call-registry';
import { FrameReader, FrameType, encodeFrame, execPayload, splitExecPayload } from './agent-frames';
import { type ControlMessage, type FieldValue, controlMessage, decodeControl, encodeControl, field } from './agent-messages';
import { checkControlMessage } from './agent-schema';

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
  protocolError: [string];
  close: [];
}

function exitOf(msg: ControlMessage): AgentExit {
  const signal = field(msg, 'signal');
  const code = field(msg, 'code');
  return signal !== undefined ? { signal: Number(signal) } : { code: Number(code ?? 255) };
}

export class AgentConnection extends EventEmitter<AgentEvents> {
  private readonly reader = new FrameReader();
  private readonly calls = new CallRegistry<ControlMessage>('EAGENT');
  private closed = false;

  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.calls.rejectAll('agent connection closed');
      this.emit('close');
    });
    socket.on('error', () => { /* close follows */ });
  }

  /** Sends a request and resolves with the agent's success reply; an `error` reply rejects. */
  request(name: string, fields: Record<string, FieldValue | undefined> | Array<[string, FieldValue]>, timeoutMs = 30_000): Promise<ControlMessage> {
    if (this.closed) return Promise.reject(new RunxError('EAGENT', `${name}: agent connection closed`));
    return this.calls.create(`agent ${name}`, timeoutMs, (id) => {
      const list: Array<[string, FieldValue]> = Array.isArray(fields) ? [...fields] : Object.entries(fields).filter((e): e is [string, FieldValue] => e[1] !== undefined);
      this.sendControl(controlMessage(name, [['id', id], ...list]));
    });
  }

  /** Sends stdin bytes; an empty buffer is EOF. Large writes are split into frames. */
  sendStdin(data: Buffer): void {
    if (this.closed) return;
    if (data.length === 0) {
      this.socket.write(encodeFrame(FrameType.stdin, data));
      return;
    }
    for (let off = 0; off < data.length; off += 64 * 1024) {
      this.socket.write(encodeFrame(FrameType.stdin, data.subarray(off, off + 64 * 1024)));
    }
  }

  /** Sends stdin bytes to exec'd process `exec`; an empty buffer is EOF. */
  sendExecStdin(exec: number, data: Buffer): void {
    if (this.closed) return;
    const step = 64 * 1024;
    if (data.length === 0) this.socket.write(encodeFrame(FrameType['exec-stdin'], execPayload(exec, data)));
    for (let off = 0; off < data.length; off += step) {
      this.socket.write(encodeFrame(FrameType['exec-stdin'], execPayload(exec, data.subarray(off, off + step))));
    }
  }

  close(): void {
    this.socket.destroy();
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
      this.emit('protocolError', (err as Error).message);
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (frame.type === FrameType.stdout) this.emit('stdout', frame.payload);
      else if (frame.type === FrameType.stderr) this.emit('stderr', frame.payload);
      else if (frame.type === FrameType.control) this.onControl(decodeControl(frame.payload));
      else if (frame.type === FrameType['exec-stdout'] || frame.type === FrameType['exec-stderr']) this.onExecOutput(frame.type, frame.payload);
    }
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
        this.emit('hello', msg);
        return;
      case 'exit':
        this.emit('exit', exitOf(msg));
        return;
      case 'exec-exit':
        this.emit('execExit', Number(field(msg, 'exec')), exitOf(msg));
        return;
      case 'error':
        if (!this.calls.reject(id, new RunxError('EAGENT', field(msg, 'msg') ?? 'agent error'))) {
          this.emit('protocolError', `agent error: ${field(msg, 'msg') ?? ''}`);
        }
        return;
      default:
        if (!this.calls.resolve(id, msg)) this.emit('protocolError', `unexpected "${msg.name}" (id ${id})`);
    }
  }
}
