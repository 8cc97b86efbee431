// Which network namespace a keeper starts in, read from a bundle's config before it is
// validated; and which loopback nameserver a container's resolv.conf names.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keeperNetnsOf } from '../../../../../src/xcontainer/devices/net/keeper-netns';
import { loopbackNameserver } from '../../../../../src/xcontainer/devices/net/dns-relay';

function bundle(config: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-netns-'));
  fs.writeFileSync(path.join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

describe('keeperNetnsOf', () => {
  it('a network namespace without a path is a new one', () => {
    expect(keeperNetnsOf(bundle({ linux: { namespaces: [{ type: 'pid' }, { type: 'network' }] } }))).toEqual({});
  });
  it('a path that exists is that namespace', () => {
    expect(keeperNetnsOf(bundle({ linux: { namespaces: [{ type: 'network', path: '/proc/self/ns/net' }] } }))).toEqual({ path: '/proc/self/ns/net' });
  });
  it('no network namespace, a missing path, or a config that cannot be read: none', () => {
    expect(keeperNetnsOf(bundle({ linux: { namespaces: [{ type: 'pid' }] } }))).toBeUndefined();
    expect(keeperNetnsOf(bundle({ linux: { namespaces: [{ type: 'network', path: '/nonexistent/ns' }] } }))).toBeUndefined();
    expect(keeperNetnsOf(bundle('{not json'))).toBeUndefined();
    expect(keeperNetnsOf(bundle({ linux: { namespaces: [null] } }))).toBeUndefined();
  });
});

describe('loopbackNameserver', () => {
  const resolv = (text: string) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'runx-resolv-')), 'resolv.conf');
    fs.writeFileSync(file, text);
    return [{ destination: '/etc/resolv.conf', type: 'bind', source: file }];
  };
  it("finds Docker's embedded DNS", () => {
    expect(loopbackNameserver(resolv('nameserver 127.0.0.11\noptions ndots:0\n'))).toBe('127.0.0.11');
  });
  it('ignores other nameservers, and containers without such a mount', () => {
    expect(loopbackNameserver(resolv('nameserver 10.0.0.1\n'))).toBeUndefined();
    expect(loopbackNameserver([])).toBeUndefined();
    expect(loopbackNameserver(undefined)).toBeUndefined();
  });
});
