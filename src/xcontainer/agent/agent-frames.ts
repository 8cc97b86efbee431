// Framing of the host<->agent protocol (docs/protocol/agent.md): an 8-byte header
// ("RX", version, type, u32 big-endian length) and a payload. The reader reassembles
// frames from arbitrarily split or merged chunks.

export const FRAME_MAGIC = 'RX';
export const PROTOCOL_VERSION = 2;
export const HEADER_BYTES = 8;
export const MAX_PAYLOAD = 1024 * 1024;
/** Stdin credit each stream starts with (docs/protocol/agent.md, "Flow control"). */
export const STDIN_WINDOW = 1024 * 1024;

export const FrameType = { control: 1, stdin: 2, stdout: 3, stderr: 4, 'exec-stdin': 5, 'exec-stdout': 6, 'exec-stderr': 7 } as const;
export type FrameTypeName = keyof typeof FrameType;
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];

export interface Frame {
  type: FrameTypeCode;
  payload: Buffer;
}

export function encodeFrame(type: FrameTypeCode, payload: Buffer): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(FRAME_MAGIC, 0, 'latin1');
  header.writeUInt8(PROTOCOL_VERSION, 2);
  header.writeUInt8(type, 3);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** An exec-* frame's payload: the exec number (4 bytes, big-endian), then the bytes. */
export function execPayload(exec: number, data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(exec, 0);
  return Buffer.concat([head, data]);
}

export function splitExecPayload(payload: Buffer): { exec: number; data: Buffer } {
  if (payload.length < 4) throw new FrameError('exec frame without an exec number');
  return { exec: payload.readUInt32BE(0), data: payload.subarray(4) };
}

export class FrameError extends Error {}

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /** Returns the complete frames in `chunk` (plus what was pending); throws FrameError on garbage. */
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.buf.length >= HEADER_BYTES) {
      if (this.buf.toString('latin1', 0, 2) !== FRAME_MAGIC) throw new FrameError('bad frame magic');
      const version = this.buf.readUInt8(2);
      if (version !== PROTOCOL_VERSION) throw new FrameError(`unsupported protocol version ${version}`);
      const type = this.buf.readUInt8(3);
      if (!KNOWN_TYPES.has(type)) throw new FrameError(`unknown frame type ${type}`);
      const length = this.buf.readUInt32BE(4);
      if (length > MAX_PAYLOAD) throw new FrameError(`frame length ${length} exceeds ${MAX_PAYLOAD}`);
      if (this.buf.length < HEADER_BYTES + length) break;
      frames.push({ type: type as FrameTypeCode, payload: Buffer.from(this.buf.subarray(HEADER_BYTES, HEADER_BYTES + length)) });
      this.buf = this.buf.subarray(HEADER_BYTES + length);
    }
    return frames;
  }
}
