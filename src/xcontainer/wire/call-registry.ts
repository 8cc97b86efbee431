// Pending request/response calls keyed by id, each with a label and a timeout; every
// pending call is rejected when the connection closes (puppeteer's CallbackRegistry idea).
import { RunxError, type RunxErrorCode } from '../../errors';

interface Pending<T> {
  label: string;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class CallRegistry<T> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending<T>>();
  constructor(private readonly errorCode: RunxErrorCode) {}

  /** Registers a call; `send` gets its id and must put the request on the wire. */
  create(label: string, timeoutMs: number, send: (id: number) => void): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RunxError(this.errorCode, `${label}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { label, resolve, reject, timer });
      try {
        send(id);
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err as Error);
      }
    });
  }

  resolve(id: number, value: T): boolean {
    const call = this.pending.get(id);
    if (!call) return false;
    clearTimeout(call.timer);
    this.pending.delete(id);
    call.resolve(value);
    return true;
  }

  reject(id: number, err: Error): boolean {
    const call = this.pending.get(id);
    if (!call) return false;
    clearTimeout(call.timer);
    this.pending.delete(id);
    call.reject(err);
    return true;
  }

  rejectAll(reason: string): void {
    for (const [id, call] of this.pending) {
      clearTimeout(call.timer);
      this.pending.delete(id);
      call.reject(new RunxError(this.errorCode, `${call.label}: ${reason}`));
    }
  }

  get size(): number {
    return this.pending.size;
  }
}
