// The checkpoint manifest as written: every file's size and sha256 and a digest of
// the rest, so that any edit shows. (Reading an image back, and each way one is
// refused, is image-reader.test.ts's.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FORMAT, FORMAT_VERSION, MANIFEST_FILE, type CheckpointManifest, manifestBody, selfDigest, writeManifest } from '../../../src/checkpoint/manifest';

let dir: string;
const base: Omit<CheckpointManifest, 'files' | 'digest'> = {
  format: FORMAT,
  formatVersion: FORMAT_VERSION,
  runxVersion: '0.1.0',
  created: '2026-12-03T12:00:00.000Z',
  qemu: { build: 'QEMU emulator version 7.2.0', machine: 'microvm', cpu: 'max', accel: 'tcg' },
  shape: { memoryMiB: 256, vcpus: 1 },
  agentProtocol: 1,
  configDigest: 'sha256:abc',
  container: { id: 'c1', status: 'running', bundle: '/b' },
  shares: [],
};

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-manifest-'));
  fs.writeFileSync(path.join(dir, 'vm.state'), Buffer.alloc(4096, 7));
  fs.writeFileSync(path.join(dir, 'config.json'), '{"ociVersion":"1.0.2"}');
  await writeManifest(dir, base, ['vm.state', 'config.json']);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const manifestPath = () => path.join(dir, MANIFEST_FILE);
const readManifest = () => JSON.parse(fs.readFileSync(manifestPath(), 'utf8')) as CheckpointManifest;

describe('checkpoint manifest', () => {
  it('lists every file with its size and sha256, and carries a digest of the rest', () => {
    const m = readManifest();
    expect(m).toMatchObject(base);
    expect(m.files['vm.state']).toEqual({ size: 4096, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(m.files['config.json']?.size).toBe(22);
    expect(m.digest).toBe(selfDigest(m));
    expect(manifestBody(m)).not.toContain('"digest"');
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', MANIFEST_FILE, 'vm.state']);
  });

  it('any edit of the manifest changes its digest', () => {
    const m = readManifest();
    expect(selfDigest({ ...m, container: { ...m.container, status: 'created' } })).not.toBe(m.digest);
    expect(selfDigest({ ...m, files: { ...m.files, 'vm.state': { ...m.files['vm.state']!, size: 4095 } } })).not.toBe(m.digest);
    expect(selfDigest({ ...m, digest: 'anything' })).toBe(m.digest);
  });

  it('never writes over a manifest already there', async () => {
    await expect(writeManifest(dir, base, ['vm.state'])).rejects.toThrow(/EEXIST/);
    expect(readManifest().files['config.json']).toBeDefined();
  });
});
