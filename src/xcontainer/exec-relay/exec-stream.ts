// The exec stream on keeper.sock (docs/protocol/keeper.md): after the `exec` request
// and its JSON reply, both ends exchange frames of the agent protocol's format —
// stdin (2), stdout (3), stderr (4), and control (1) frames whose payload is one JSON
// value. Shared by the keeper (server end) and the exec relay (client end). The client
// sends stdin within the credit the keeper passes on from the agent (`credit`).
import { FrameType, encodeFrame } from '../agent/agent-frames';

/** Control frames on an exec stream. */
export type ExecControl =
  | { resize: { rows: number; cols: number } }
  | { signal: number }
  /** keeper → client: the client may send n more stdin bytes. */
  | { credit: number }
  | { exit: { code?: number; signal?: number } };

export function controlFrame(msg: ExecControl): Buffer {
  return encodeFrame(FrameType.control, Buffer.from(JSON.stringify(msg)));
}

/** Parses a control frame's payload; undefined when it is not one of ours. */
export function parseControl(payload: Buffer): ExecControl | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
  if ('resize' in o) {
    const r = o.resize as { rows?: unknown; cols?: unknown } | null;
    if (r && isCount(r.rows) && isCount(r.cols)) return { resize: { rows: r.rows, cols: r.cols } };
  } else if ('signal' in o) {
    if (typeof o.signal === 'number' && Number.isInteger(o.signal) && o.signal > 0 && o.signal < 65) return { signal: o.signal };
  } else if ('credit' in o) {
    if (typeof o.credit === 'number' && Number.isSafeInteger(o.credit) && o.credit > 0) return { credit: o.credit };
  } else if ('exit' in o && o.exit && typeof o.exit === 'object') {
    const e = o.exit as { code?: unknown; signal?: unknown };
    if (typeof e.signal === 'number') return { exit: { signal: e.signal } };
    if (typeof e.code === 'number') return { exit: { code: e.code } };
  }
  return undefined;
}
