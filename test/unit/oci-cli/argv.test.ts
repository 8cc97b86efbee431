import { describe, expect, it } from 'vitest';
import { normaliseArgv } from '../../../src/oci-cli/argv';

describe('argv normalisation', () => {
  const known = new Set(['root', 'no-subreaper', 'pid-file', 'bundle', 'detach']);
  it('turns single-dash long flags containerd uses into double-dash', () => {
    expect(normaliseArgv(['-root', '/r', 'restore', '--detach', '-no-subreaper', '-pid-file=/p', 'id'], known))
      .toEqual(['--root', '/r', 'restore', '--detach', '--no-subreaper', '--pid-file=/p', 'id']);
  });
  it('leaves short flags, unknown names and everything after -- alone', () => {
    expect(normaliseArgv(['-d', '-xyz', '--', '-root'], known)).toEqual(['-d', '-xyz', '--', '-root']);
  });
});
