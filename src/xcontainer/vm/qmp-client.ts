// A QMP client (QEMU Machine Protocol, docs/interop/qmp-spec): reads the greeting,
// negotiates capabilities, runs commands with ids and timeouts, and emits events.
// Typed by a command map so callers get the argument and result types from the name.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { RunxError } from '../../errors';
import { CallRegistry } from '../wire/call-registry';
import { JsonLineReader } from '../wire/json-lines';

export interface QmpCommands {
  qmp_capabilities: { args: Record<string, never>; result: Record<string, never> };
  'query-status': { args: Record<string, never>; result: { running: boolean; status: string } };
  'query-version': { args: Record<string, never>; result: { qemu: { major: number; minor: number; micro: number }; package: string } };
  stop: { args: Record<string, never>; result: Record<string, never> };
  cont: { args: Record<string, never>; result: Record<string, never> };
  quit: { args: Record<string, never>; result: Record<string, never> };
  migrate: { args: { uri: string }; result: Record<string, never> };
  migrate_cancel: { args: Record<string, never>; result: Record<string, never> };
  'migrate-incoming': { args: { uri: string }; result: Record<string, never> };
  'migrate-set-capabilities': { args: { capabilities: Array<{ capability: string; state: boolean }> }; result: Record<string, never> };
  'migrate-set-parameters': { args: { 'downtime-limit'?: number; 'max-bandwidth'?: number }; result: Record<string, never> };
  'nbd-server-start': { args: { addr: { type: 'inet'; data: { host: string; port: string } } | { type: 'unix'; data: { path: string } } }; result: Record<string, never> };
  'nbd-server-add': { args: { device: string; name?: string; writable: boolean }; result: Record<string, never> };
  'nbd-server-stop': { args: Record<string, never>; result: Record<string, never> };
  'drive-mirror': { args: { 'job-id': string; device: string; target: string; format: string; sync: 'full'; mode: 'existing' }; result: Record<string, never> };
  'query-block': { args: Record<string, never>; result: Array<{ device: string }> };
  'query-block-jobs': { args: Record<string, never>; result: Array<{ device: string; ready: boolean; len: number; offset: number; status?: string }> };
  block_resize: { args: { device: string; size: number }; result: Record<string, never> };
  /** QEMU >= 10.0; without node-name, every node. */
  'blockdev-set-active': { args: { 'node-name'?: string; active: boolean }; result: Record<string, never> };
  'block-job-cancel': { args: { device: string; force?: boolean }; result: Record<string, never> };
  'query-migrate': { args: Record<string, never>; result: MigrateInfo };
  set_link: { args: { name: string; up: boolean }; result: Record<string, never> };
  'announce-self': { args: { initial: number; max: number; rounds: number; step: number }; result: Record<string, never> };
}

export interface MigrateInfo {
  status?: string;
  'error-desc'?: string;
  'total-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  ram?: { transferred: number; remaining: number; total: number; 'dirty-pages-rate'?: number; mbps?: number };
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

type QmpReply = { return: unknown } | { error: { class: string; desc: string } };

export interface QmpGreeting {
  QMP: { version: { qemu: { major: number; minor: number; micro: number }; package: string }; capabilities: string[] };
}

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private readonly calls = new CallRegistry<unknown>('EQMP');
  private greetingWaiter?: (g: QmpGreeting) => void;
  private greeting?: QmpGreeting;
  private closed = false;

  constructor(private readonly socket: Socket, private readonly timeoutMs = 10_000) {
    super();
    const reader = new JsonLineReader((v) => this.onMessage(v), () => { /* QMP never sends non-JSON */ });
    socket.on('data', (chunk) => reader.push(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.calls.rejectAll('QMP connection closed');
      this.emit('close');
    });
    socket.on('error', () => { /* close follows */ });
  }

  /** Waits for the greeting and leaves capabilities-negotiation mode. */
  async negotiate(): Promise<QmpGreeting> {
    const greeting = this.greeting ?? await new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RunxError('EQMP', 'QMP greeting not received')), this.timeoutMs);
      this.greetingWaiter = (g) => { clearTimeout(timer); resolve(g); };
    });
    await this.execute('qmp_capabilities', {});
    return greeting;
  }

  execute<K extends keyof QmpCommands>(command: K, args: QmpCommands[K]['args'], timeoutMs = this.timeoutMs): Promise<QmpCommands[K]['result']> {
    if (this.closed) return Promise.reject(new RunxError('EQMP', `${command}: QMP connection closed`));
    return this.calls.create(`QMP ${command}`, timeoutMs, (id) => {
      const msg: Record<string, unknown> = { execute: command, id };
      if (Object.keys(args).length > 0) msg.arguments = args;
      this.socket.write(`${JSON.stringify(msg)}\n`);
    }) as Promise<QmpCommands[K]['result']>;
  }

  close(): void {
    this.socket.destroy();
  }

  private onMessage(value: unknown): void {
    const msg = value as Record<string, unknown>;
    if ('QMP' in msg) {
      this.greeting = msg as unknown as QmpGreeting;
      this.greetingWaiter?.(this.greeting);
    } else if ('event' in msg) {
      this.emit('event', msg as unknown as QmpEvent);
    } else if (typeof msg.id === 'number') {
      const reply = msg as unknown as QmpReply & { id: number };
      if ('error' in reply) this.calls.reject(reply.id, new RunxError('EQMP', `QMP: ${reply.error.desc}`));
      else this.calls.resolve(reply.id, reply.return);
    }
  }
}
