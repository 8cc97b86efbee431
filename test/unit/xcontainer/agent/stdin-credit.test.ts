import { describe, expect, it } from 'vitest';
import { CreditedStream, pausingWriter } from '../../../../src/xcontainer/agent/stdin-credit';

function stream(window: number, maxChunk = 1024) {
  const sent: Buffer[] = [];
  const s = new CreditedStream((c) => sent.push(Buffer.from(c)), maxChunk, window);
  let drains = 0;
  s.on('drain', () => drains++);
  return { s, sent, drains: () => drains };
}

describe('stdin credit (sending side)', () => {
  it('sends within the window, in chunks of at most maxChunk, and asks the source to pause beyond it', () => {
    const { s, sent } = stream(10, 4);
    expect(s.write(Buffer.from('abcdef'))).toBe(true);
    expect(s.write(Buffer.from('ghijklmn'))).toBe(false);
    expect(sent.map(String)).toEqual(['abcd', 'ef', 'ghij']);
    expect(s.waiting).toBe(4);
  });

  it('sends what waited as credit comes back, then says drain once', () => {
    const { s, sent, drains } = stream(4);
    s.write(Buffer.from('0123456789'));
    s.grant(3);
    expect(drains()).toBe(0);
    s.grant(3);
    expect(Buffer.concat(sent).toString()).toBe('0123456789');
    expect(drains()).toBe(1);
    s.grant(100);
    expect(drains()).toBe(1);
  });

  it('sends EOF after what is queued, and nothing after it', () => {
    const { s, sent } = stream(2);
    s.write(Buffer.from('abc'));
    s.write(Buffer.alloc(0));
    s.write(Buffer.from('late'));
    expect(sent.map(String)).toEqual(['ab']);
    s.grant(5);
    expect(sent.map(String)).toEqual(['ab', 'c', '']);
    s.grant(5);
    expect(sent).toHaveLength(3);
  });

  it('on close drops what waits and lets a paused source go on', () => {
    const { s, sent, drains } = stream(1);
    expect(s.write(Buffer.from('xyz'))).toBe(false);
    s.close();
    expect(drains()).toBe(1);
    expect(s.waiting).toBe(0);
    expect(s.write(Buffer.from('more'))).toBe(true);
    expect(sent.map(String)).toEqual(['x']);
  });

  it('pausingWriter holds its source back while bytes wait for credit, once, and lets it go on drain', () => {
    const { s } = stream(4);
    const calls: string[] = [];
    const write = pausingWriter({ pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    write(s, Buffer.from('abc'));
    expect(calls).toEqual([]);
    write(s, Buffer.from('def'));
    write(s, Buffer.from('ghi'));
    expect(calls).toEqual(['pause']);
    s.grant(10);
    expect(calls).toEqual(['pause', 'resume']);
  });
});
