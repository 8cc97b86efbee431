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

  it('resync resumes from what the receiver holds, less what was sent after the mark, not from a full window', () => {
    const { s, sent, drains } = stream(100);
    // A new connection to a receiver that still holds 60 bytes of an earlier sender's.
    const mark = s.sent;
    expect(s.write(Buffer.alloc(30))).toBe(true);
    s.resync(60, mark);
    // 100 - 60 held - 30 sent since the mark: 10 more may go, no more.
    expect(s.write(Buffer.alloc(15))).toBe(false);
    expect(sent.reduce((n, b) => n + b.length, 0)).toBe(40);
    expect(s.waiting).toBe(5);
    s.grant(5);
    expect(s.waiting).toBe(0);
    expect(drains()).toBe(1);
  });

  it('a resync that frees credit sends what waited', () => {
    const { s, sent, drains } = stream(100);
    expect(s.write(Buffer.alloc(120))).toBe(false);
    // The receiver holds only 50 of the 100 we sent before the mark (the rest it granted back unseen).
    s.resync(50, s.sent);
    expect(sent.reduce((n, b) => n + b.length, 0)).toBe(120);
    expect(drains()).toBe(1);
  });

  it('suspend holds bytes back, queued, whatever the credit', () => {
    const { s, sent } = stream(100);
    s.suspend();
    expect(s.write(Buffer.alloc(10))).toBe(false);
    s.grant(50);
    expect(sent).toHaveLength(0);
    expect(s.waiting).toBe(10);
  });

  it('handOff gives the last window sent in the receiver\'s offsets, what waits, and EOF; then sends nothing', () => {
    const sent: Buffer[] = [];
    const s = new CreditedStream((c) => sent.push(Buffer.from(c)), 4, 8, true);
    // The receiver had read 100 of the stream when this end had sent nothing.
    s.setOrigin(100, 0);
    s.write(Buffer.from('abcdefghij'));
    expect(s.offset).toBe(108);
    s.grant(8);
    s.write(Buffer.from('klmnop'));
    expect(s.offset).toBe(116);
    s.suspend();
    s.write(Buffer.from('q'));
    s.write(Buffer.alloc(0));
    const h = s.handOff();
    expect(h.offset).toBe(116);
    // No more than the window (8) can be on its way: the first 8 are known read.
    expect(h.recent.map((r) => [r.end, r.data.toString()])).toEqual([[110, 'ij'], [114, 'klmn'], [116, 'op']]);
    expect(Buffer.concat(h.waiting).toString()).toBe('q');
    expect(h.eof).toBe(true);
    s.unsuspend();
    s.grant(100);
    expect(Buffer.concat(sent).toString()).toBe('abcdefghijklmnop');
  });

  it('a receiver that never said where it stood gives no offset to resume from', () => {
    const s = new CreditedStream(() => undefined, 4, 8, true);
    s.write(Buffer.from('ab'));
    expect(s.offset).toBeUndefined();
    expect(s.handOff()).toMatchObject({ offset: undefined, recent: [] });
  });
});
