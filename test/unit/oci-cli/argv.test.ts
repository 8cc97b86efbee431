import { describe, expect, it } from 'vitest';
import { normaliseArgv, verbOf, wantsVersion } from '../../../src/oci-cli/argv';

describe('argv normalisation', () => {
  const known = new Set(['root', 'no-subreaper', 'pid-file', 'bundle', 'detach', 'user']);
  const withValue = new Set(['root', 'pid-file', 'bundle', 'user']);
  it('turns single-dash long flags containerd uses into double-dash', () => {
    expect(normaliseArgv(['-root', '/r', 'restore', '--detach', '-no-subreaper', '-pid-file=/p', 'id'], known, withValue))
      .toEqual(['--root', '/r', 'restore', '--detach', '--no-subreaper', '--pid-file=/p', 'id']);
  });
  it('leaves short flags, unknown names and everything after -- alone', () => {
    expect(normaliseArgv(['-d', '-xyz', '--', '-root'], known)).toEqual(['-d', '-xyz', '--', '-root']);
  });
  it('leaves the command line after exec\'s container id alone', () => {
    expect(normaliseArgv(['-root', '/r', 'exec', '-pid-file', '/p', 'id', 'find', '/', '-user', '0'], known, withValue))
      .toEqual(['--root', '/r', 'exec', '--pid-file', '/p', 'id', 'find', '/', '-user', '0']);
  });
});

describe('--version detection', () => {
  const verbs = new Set(['run', 'state']);
  it('finds it among global flags only', () => {
    expect(wantsVersion(['--root', '/r', '--version'], verbs)).toBe(true);
    expect(wantsVersion(['-v'], verbs)).toBe(true);
    expect(wantsVersion(['run', '--version'], verbs)).toBe(false);
    expect(wantsVersion(['state', 'id'], verbs)).toBe(false);
  });
});

describe('verb detection', () => {
  const withValue = new Set(['root', 'log', 'log-format']);
  it('skips global flags and their values', () => {
    expect(verbOf(['--root', '/r', '--log-format', 'json', 'state', 'id'], withValue)).toBe('state');
    expect(verbOf(['--root=/r', '--debug', 'kill', 'id', '9'], withValue)).toBe('kill');
    expect(verbOf(['-root', '/r', 'restore', '-no-subreaper'], withValue)).toBe('restore');
    expect(verbOf(['--debug'], withValue)).toBeUndefined();
  });
});
