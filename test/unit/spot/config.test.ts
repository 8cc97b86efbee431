// The daemon config: JSON and YAML accepted, schema errors are one line naming the field.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDaemonConfig, parseDaemonConfig, validateDaemonConfig } from '../../../src/spot/config';
import { volumeRoots } from '../../../src/migrate/volume-roots';

const good = {
  listen: '127.0.0.1:7070', tokenFile: '/etc/runx/token', provider: { kind: 'aws', endpoint: 'http://127.0.0.1:1338' },
  market: 'spot', price: 0.03,
  peers: [{ name: 'b', address: '10.0.0.2:7070', market: 'on-demand', price: 0.096, tokenFile: '/etc/runx/b.token' }],
  policy: { riskThreshold: 0.4, linkMiBps: 100 },
  etcd: { endpoints: ['http://127.0.0.1:2379'] },
};

describe('daemon config', () => {
  it('accepts a full config and fills defaults', () => {
    const c = validateDaemonConfig(structuredClone(good));
    expect(c.peers![0]!.name).toBe('b');
    expect(c.etcd!.prefix).toBe('/runx/peers/');
    expect(c.etcd!.reservationsPrefix).toBe('/runx/reservations/');
    expect(c.etcd!.leaseSeconds).toBe(10);
  });
  it('takes volumeRoots, a list of directories, as runx serve takes --volume-root', () => {
    expect(validateDaemonConfig({ ...structuredClone(good), volumeRoots: ['/var/lib/docker/volumes'] }).volumeRoots).toEqual(['/var/lib/docker/volumes']);
    expect(() => validateDaemonConfig({ ...structuredClone(good), volumeRoots: '/var/lib/docker/volumes' }, 'd.json')).toThrow('d.json: volumeRoots must be array');
    expect(() => validateDaemonConfig({ ...structuredClone(good), volumeRoots: [''] }, 'd.json')).toThrow(/d.json: volumeRoots\[0\] must NOT have fewer than 1 characters/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-vroot-'));
    expect(volumeRoots([dir], 'volumeRoots')).toEqual([dir]);
    expect(() => volumeRoots([path.join(dir, 'nope')], 'volumeRoots')).toThrow(`volumeRoots ${path.join(dir, 'nope')}: not a directory`);
    fs.rmSync(dir, { recursive: true });
  });
  it('names the field in a one-line error', () => {
    const bad = (patch: (c: any) => void) => { const c: any = structuredClone(good); patch(c); return () => validateDaemonConfig(c, 'd.json'); };
    expect(bad((c) => { c.peers[0].price = 'cheap'; })).toThrow('d.json: peers[0].price must be number');
    expect(bad((c) => { delete c.listen; })).toThrow('d.json: listen is required');
    expect(bad((c) => { c.listen = 'nowhere'; })).toThrow('d.json: listen must be HOST:PORT');
    expect(bad((c) => { c.provider.kind = 'ibm'; })).toThrow('d.json: provider.kind must be one of aws, gcp, azure, none');
    expect(bad((c) => { c.market = 'reserved'; })).toThrow('d.json: market must be one of spot, on-demand');
    expect(bad((c) => { c.policy.riskTreshold = 1; })).toThrow('d.json: policy.riskTreshold is not a known setting');
    expect(bad((c) => { c.provider.endpoint = 'ftp://x'; })).toThrow('d.json: provider.endpoint must be an http(s) URL');
    expect(bad((c) => { c.peers.push({ ...c.peers[0] }); })).toThrow('d.json: peers[1].name "b" is used twice');
    expect(bad((c) => { c.policy.returnBelow = 0.9; })).toThrow(/returnBelow must not exceed/);
    expect(bad((c) => { c.etcd.name = 'a/b'; })).toThrow('d.json: etcd.name must not contain "/"');
    expect(bad((c) => { c.etcd.leaseSeconds = 1; })).toThrow('d.json: etcd.leaseSeconds must be >= 2');
    expect(bad((c) => { c.etcd.register = {}; })).toThrow('d.json: etcd.register.capacityMiB is required');
    expect(bad((c) => { c.etcd.register = { capacityMiB: 1024, address: 'x' }; })).toThrow('d.json: etcd.register.address must be HOST:PORT');
    try { bad((c) => { c.price = -1; })(); } catch (e) { expect((e as Error).message).not.toContain('\n'); expect((e as { field: string }).field).toBe('price'); }
  });
  it('reads YAML as well as JSON', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-spot-'));
    try {
      const y = path.join(dir, 'd.yaml');
      fs.writeFileSync(y, 'listen: "127.0.0.1:7070"\ntokenFile: /t\nprovider: {kind: gcp}\nmarket: spot\nprice: 0.01\npeers:\n  - {name: b, address: "h:1", market: spot, price: 0.02}\n');
      expect(loadDaemonConfig(y).provider.kind).toBe('gcp');
      const j = path.join(dir, 'd.json');
      fs.writeFileSync(j, '{"listen": ');
      expect(() => loadDaemonConfig(j)).toThrow(/^.*d\.json: not valid JSON/);
      expect(() => loadDaemonConfig(path.join(dir, 'missing.json'))).toThrow(/cannot read config/);
      expect(parseDaemonConfig('market: spot', 'x.conf')).toEqual({ market: 'spot' });
    } finally { fs.rmSync(dir, { recursive: true }); }
  });
});
