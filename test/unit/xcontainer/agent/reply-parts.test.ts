import { describe, expect, it } from 'vitest';
import { controlMessage } from '../../../../src/xcontainer/agent/agent-messages';
import { ReplyParts } from '../../../../src/xcontainer/agent/reply-parts';

describe('replies in parts', () => {
  it('passes a one-part reply through', () => {
    const msg = controlMessage('procs', { id: 3, proc: ['2:1:0:S:sh'] });
    expect(new ReplyParts().add(3, msg)).toBe(msg);
  });

  it('joins parts marked more=1 into one reply, in order, with one id and no more', () => {
    const p = new ReplyParts();
    expect(p.add(5, controlMessage('procs', { id: 5, proc: ['2:1:0:S:a', '3:1:0:S:b'], more: 1 }))).toBeUndefined();
    expect(p.add(5, controlMessage('procs', { id: 5, proc: ['4:1:0:S:c'], more: 1 }))).toBeUndefined();
    const whole = p.add(5, controlMessage('procs', { id: 5, proc: ['5:1:0:S:d'] }));
    expect(whole).toEqual(controlMessage('procs', { id: 5, proc: ['2:1:0:S:a', '3:1:0:S:b', '4:1:0:S:c', '5:1:0:S:d'] }));
    // the call is done: a new one with the same id starts afresh
    expect(p.add(5, controlMessage('procs', { id: 5 }))).toEqual(controlMessage('procs', { id: 5 }));
  });

  it('refuses a reply past its bound and forgets its parts', () => {
    const p = new ReplyParts(100);
    p.add(1, controlMessage('procs', { id: 1, proc: ['x'.repeat(60)], more: 1 }));
    expect(() => p.add(1, controlMessage('procs', { id: 1, proc: ['y'.repeat(60)], more: 1 }))).toThrow(/exceeds 100 bytes/);
    expect(p.add(1, controlMessage('procs', { id: 1, proc: ['z'] }))).toEqual(controlMessage('procs', { id: 1, proc: ['z'] }));
  });
});
