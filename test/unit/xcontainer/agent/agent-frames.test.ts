import { describe, expect, it } from 'vitest';
import { FRAME_MAGIC, FrameError, FrameReader, FrameType, HEADER_BYTES, MAX_PAYLOAD, PROTOCOL_VERSION, STDIN_WINDOW, encodeFrame } from '../../../../src/xcontainer/agent/agent-frames';
import { agentProtocolSpec } from '../../../../src/xcontainer/agent/agent-schema';

describe('agent frames', () => {
  it('match docs/protocol/agent.json', () => {
    const spec = agentProtocolSpec();
    expect(FRAME_MAGIC).toBe(spec.magic);
    expect(PROTOCOL_VERSION).toBe(spec.version);
    expect(HEADER_BYTES).toBe(spec.headerBytes);
    expect(MAX_PAYLOAD).toBe(spec.maxPayload);
    expect(STDIN_WINDOW).toBe(spec.stdinWindow);
    expect(FrameType).toEqual(spec.frameTypes);
  });

  it('encodes the documented header', () => {
    const f = encodeFrame(FrameType.stdout, Buffer.from('hi'));
    expect([...f]).toEqual([0x52, 0x58, PROTOCOL_VERSION, 3, 0, 0, 0, 2, 0x68, 0x69]);
  });

  it('reassembles frames split and merged at every byte boundary', () => {
    const wire = Buffer.concat([
      encodeFrame(FrameType.stdout, Buffer.from('hello')),
      encodeFrame(FrameType.stderr, Buffer.alloc(0)),
      encodeFrame(FrameType.control, Buffer.from('exit\0code=3\0')),
    ]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const r = new FrameReader();
      const frames = [...r.push(wire.subarray(0, cut)), ...r.push(wire.subarray(cut))];
      expect(frames.map((f) => [f.type, f.payload.toString()])).toEqual([[3, 'hello'], [4, ''], [1, 'exit\0code=3\0']]);
    }
    const r = new FrameReader();
    const oneByOne = [...wire].flatMap((b) => r.push(Buffer.from([b])));
    expect(oneByOne).toHaveLength(3);
  });

  it('rejects garbage: bad magic, version, type, oversize length', () => {
    const good = encodeFrame(FrameType.stdout, Buffer.from('x'));
    const bad = (mutate: (b: Buffer) => void) => { const b = Buffer.from(good); mutate(b); return () => new FrameReader().push(b); };
    expect(bad((b) => { b[0] = 0x41; })).toThrow(FrameError);
    expect(bad((b) => { b[2] = 1; })).toThrow(/version 1/);
    expect(bad((b) => { b[3] = 9; })).toThrow(/unknown frame type 9/);
    expect(bad((b) => { b.writeUInt32BE(MAX_PAYLOAD + 1, 4); })).toThrow(/exceeds/);
    expect(() => encodeFrame(FrameType.stdin, Buffer.alloc(MAX_PAYLOAD + 1))).toThrow(RangeError);
  });
});
