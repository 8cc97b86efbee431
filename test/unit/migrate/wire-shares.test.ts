// What a destination does with a Prepare's bind mounts: shares no host path the wire
// names, and places carried binds only inside its --volume-roots or its own directory,
// whatever path or symlink a hostile token holder sends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { placeBinds, refuseWireShares, removeMade } from '../../../src/migrate/wire-shares';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-wire-'));
  dirs.push(d);
  return d;
}
const bindsConfig = (...sources: string[]) => JSON.stringify({
  mounts: [{ destination: '/proc', type: 'proc' }, ...sources.map((s, i) => ({ destination: `/m${i}`, type: 'bind', source: s, options: ['rbind', i === 1 ? 'ro' : 'rw'] }))],
});
const req = (configJson: string, kinds: string[]) => ({ containerId: 'c', bundle: '/b', configJson, carryBytes: 1 << 26, carriedKinds: kinds });

describe('wire shares', () => {
  it('refuses share_paths and a live share in config_json', () => {
    expect(() => refuseWireShares({ containerId: 'c', sharePaths: ['/', '/etc'], configJson: '{}' })).toThrow(/share_paths is refused \(2 path/);
    const live = JSON.stringify({ mounts: [{ destination: '/h', source: '/', options: ['rbind'] }], annotations: { 'io.runx.live-share': '*' } });
    expect(() => refuseWireShares({ containerId: 'c', sharePaths: [], configJson: live })).toThrow(/keeps bind mounts live host shares/);
    expect(() => refuseWireShares({ containerId: 'c', sharePaths: [], configJson: '{' })).toThrow(/not JSON/);
    expect(() => refuseWireShares({ containerId: 'c', sharePaths: [], configJson: bindsConfig('/etc') })).not.toThrow();
  });

  it('places a bind inside a volume root at its own path, any other in runx\'s directory; the config names where', () => {
    const root = tmp(); const own = path.join(tmp(), '@volumes', 'c');
    const p = placeBinds(req(bindsConfig(`${root}/vol/_data`, '/etc/passwd'), ['dir', 'file']), [root], own);
    expect(p.binds.map((b) => [b.source, b.readonly, b.carried])).toEqual([[`${root}/vol/_data`, false, true], [`${own}/1`, true, true]]);
    expect(fs.statSync(`${root}/vol/_data`).isDirectory()).toBe(true);
    expect(fs.statSync(`${own}/1`).isFile()).toBe(true);
    expect((JSON.parse(p.configText) as { mounts: Array<{ source?: string }> }).mounts.map((m) => m.source)).toEqual([undefined, `${root}/vol/_data`, `${own}/1`]);
    removeMade(p.made);
    expect(fs.existsSync(`${root}/vol`)).toBe(false);
    expect(fs.existsSync(own)).toBe(false);
  });

  it('a path that climbs out of a volume root, or a symlink inside one, is never followed', () => {
    const root = tmp(); const own = path.join(tmp(), '@volumes', 'c'); const victim = tmp();
    fs.writeFileSync(path.join(victim, 'passwd'), 'root:x:0:0\n');
    // .. out of the root: placed in runx's own directory instead, the victim untouched.
    const p = placeBinds(req(bindsConfig(`${root}/../../${victim}/passwd`), ['file']), [root], own);
    expect(p.binds[0]!.source).toBe(`${own}/0`);
    removeMade(p.made);
    // A symlink in the root pointing out: refused in one line, nothing made.
    fs.symlinkSync(victim, path.join(root, 'evil'));
    expect(() => placeBinds(req(bindsConfig(`${root}/evil/passwd`, `${root}/new`), ['file', 'dir']), [root], own)).toThrow(/evil is a symlink here/);
    expect(fs.existsSync(`${root}/new`)).toBe(false);
    expect(fs.readFileSync(path.join(victim, 'passwd'), 'utf8')).toBe('root:x:0:0\n');
  });

  it('kinds must match the binds, and a bind needs a carry disk', () => {
    expect(() => placeBinds(req(bindsConfig('/a', '/b'), ['dir']), [], tmp())).toThrow(/2 bind mount\(s\) but carried_kinds names 1/);
    expect(() => placeBinds(req(bindsConfig('/a'), ['socket']), [], tmp())).toThrow(/not dir or file/);
    expect(() => placeBinds({ ...req(bindsConfig('/a'), ['dir']), carryBytes: 0 }, [], tmp())).toThrow(/no carry disk/);
  });
});
