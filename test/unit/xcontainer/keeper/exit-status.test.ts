import { describe, expect, it } from 'vitest';
import { exitStatusOf } from '../../../../src/xcontainer/keeper/keeper';

describe('exit status', () => {
  it('exit status is 128+N for death by signal N', () => {
    expect(exitStatusOf({ code: 3 })).toBe(3);
    expect(exitStatusOf({ signal: 9 })).toBe(137);
  });
});
