import { describe, expect, it } from 'vitest';
import { parseSignal } from '../../../../src/xcontainer/container/signals';

describe('signals', () => {
  it('parse as runc kill does', () => {
    expect(parseSignal('9')).toBe(9);
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('SIGTERM')).toBe(15);
    expect(parseSignal('sigusr1')).toBe(10);
    expect(() => parseSignal('NOPE')).toThrow(/unknown signal "NOPE"/);
    expect(() => parseSignal('0')).toThrow();
  });
});
