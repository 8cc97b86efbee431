// Replies the agent sends in parts (docs/protocol/agent.md: a `procs` table too big for
// one message comes as several messages with the request's id, each but the last with
// more=1): joins them into the one reply the caller asked for, within a bound, so a
// guest cannot make its keeper hold an unbounded reply.
import { RunxError } from '../../errors';
import type { ControlMessage } from './agent-messages';

/** Far above any real process table (~4,000 full-length `ps` lines per MiB). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export class ReplyParts {
  private readonly pending = new Map<number, { msg: ControlMessage; bytes: number }>();

  constructor(private readonly maxBytes = MAX_REPLY_BYTES) {}

  /**
   * Takes one reply message for call id: the whole reply once its last part is in,
   * undefined while more are to come. Throws (and forgets the parts) past the bound.
   */
  add(id: number, msg: ControlMessage): ControlMessage | undefined {
    const more = msg.fields.some(([k, v]) => k === 'more' && v === '1');
    const prev = this.pending.get(id);
    if (!more && !prev) return msg;
    const fields = msg.fields.filter(([k]) => k !== 'more' && (!prev || k !== 'id'));
    const bytes = (prev?.bytes ?? 0) + fields.reduce((n, [k, v]) => n + k.length + v.length + 2, 0);
    if (bytes > this.maxBytes) {
      this.pending.delete(id);
      throw new RunxError('EAGENT', `agent ${msg.name}: the reply exceeds ${this.maxBytes} bytes`);
    }
    const joined: ControlMessage = { name: msg.name, fields: [...(prev?.msg.fields ?? []), ...fields] };
    if (more) {
      this.pending.set(id, { msg: joined, bytes });
      return undefined;
    }
    this.pending.delete(id);
    return joined;
  }

  /** Drops the parts of a call that ended some other way (error, timeout). */
  forget(id: number): void {
    this.pending.delete(id);
  }
}
