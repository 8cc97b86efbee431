// Oversized process arguments and environment are refused naming their field.
import { describe, expect, it } from 'vitest';
import { MAX_ARG_STRLEN, validateProcessSize } from '../../../src/bundle/process-size';

describe('validateProcessSize', () => {
  it('holds each string to MAX_ARG_STRLEN and names it', () => {
    expect(() => validateProcessSize({ args: ['sh', 'x'.repeat(MAX_ARG_STRLEN - 1)] })).not.toThrow();
    expect(() => validateProcessSize({ args: ['sh', 'x'.repeat(MAX_ARG_STRLEN)] })).toThrow(/^config\.json: process\.args\[1\] is 131072 bytes; at most 131071/);
    expect(() => validateProcessSize({ args: ['sh'], env: ['A=1', `B=${'y'.repeat(MAX_ARG_STRLEN)}`] })).toThrow(/process\.env\[1\]/);
  });
  it('holds all of them together to the create message share', () => {
    const args = Array.from({ length: 8 }, () => 'z'.repeat(100_000));
    expect(() => validateProcessSize({ args })).toThrow(/process\.args and process\.env are \d+ bytes together; at most 524288/);
  });
});
