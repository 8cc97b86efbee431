// File flags are made absolute where they were typed; durations are positive seconds.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { absolutePaths, seconds } from '../../../src/oci-cli/flag-values';

describe('flag values', () => {
  it('resolves the named file flags against the working directory', () => {
    const o = absolutePaths({ tokenFile: 'token', tlsCa: '/etc/ca.pem', to: 'h:1', tlsKey: undefined as string | undefined }, ['tokenFile', 'tlsCa', 'tlsKey']);
    expect(o).toEqual({ tokenFile: path.join(process.cwd(), 'token'), tlsCa: '/etc/ca.pem', to: 'h:1', tlsKey: undefined });
  });
  it('takes positive seconds only', () => {
    expect(seconds('--stall-timeout', '2.5')).toBe(2.5);
    expect(() => seconds('--stall-timeout', '0')).toThrow('--stall-timeout must be a positive number of seconds, not "0"');
    expect(() => seconds('--stall-timeout', 'x')).toThrow(/positive number/);
  });
});
