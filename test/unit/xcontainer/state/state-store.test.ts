import { describe, expect, it } from 'vitest';
import { validateId } from '../../../../src/xcontainer/state/state-store';

describe('ids', () => {
  it('container ids follow runc\'s pattern', () => {
    expect(() => validateId('ok-id_1.2+x')).not.toThrow();
    expect(() => validateId('bad/id')).toThrow(/invalid container id format/);
    expect(() => validateId('..')).toThrow();
    expect(() => validateId('')).toThrow(/empty/);
  });
});
