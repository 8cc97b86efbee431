// The checkpoint manifest: written with every file's size and sha256 and a digest of
// itself, and read back only when all of it checks out; each way an image can be
// damaged or foreign is refused with its own one-line ECONFIG error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FORMAT, FORMAT_VERSION, MANIFEST_FILE, type CheckpointManifest, verifyImage, writeManifest } from '../../../src/checkpoint/manifest';

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
  it('round-trips: every file listed with size and sha256, and a digest of the rest', async () => {
    const m = await verifyImage(dir);
    expect(m).toMatchObject(base);
    expect(m.files['vm.state']).toEqual({ size: 4096, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(m.files['config.json']?.size).toBe(22);
    expect(m.digest).toMatch(/\S{16,}/);
    // written atomically: no temporary file is left
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', MANIFEST_FILE, 'vm.state']);
  });

  it('a flipped byte in a file is caught by its checksum', async () => {
    const fd = fs.openSync(path.join(dir, 'vm.state'), 'r+');
    fs.writeSync(fd, Buffer.from([8]), 0, 1, 100);
    fs.closeSync(fd);
    await expect(verifyImage(dir)).rejects.toMatchObject({ code: 'ECONFIG', message: `checkpoint image ${dir}: vm.state does not match its checksum (corrupt)` });
  });

  it('a truncated or missing file is named', async () => {
    fs.truncateSync(path.join(dir, 'vm.state'), 1000);
    await expect(verifyImage(dir)).rejects.toThrow(`vm.state is 1000 bytes, the manifest says 4096 (truncated or replaced)`);
    fs.rmSync(path.join(dir, 'vm.state'));
    await expect(verifyImage(dir)).rejects.toThrow(`checkpoint image ${dir}: vm.state is missing`);
  });

  it('an edited manifest fails its own digest, even with the files intact', async () => {
    const m = readManifest();
    m.container.status = 'created';
    fs.writeFileSync(manifestPath(), JSON.stringify(m));
    await expect(verifyImage(dir)).rejects.toThrow(`${MANIFEST_FILE} was altered (digest mismatch)`);
  });

  it('refuses what is not a runx checkpoint, or one of another format version', async () => {
    const m = readManifest();
    fs.writeFileSync(manifestPath(), JSON.stringify({ ...m, formatVersion: FORMAT_VERSION + 1 }));
    await expect(verifyImage(dir)).rejects.toThrow(`format version ${FORMAT_VERSION + 1} is not supported (this runx reads ${FORMAT_VERSION})`);
    fs.writeFileSync(manifestPath(), JSON.stringify({ ...m, format: 'criu' }));
    await expect(verifyImage(dir)).rejects.toThrow('not a runx checkpoint (format "criu")');
    fs.writeFileSync(manifestPath(), '{"format": ');
    await expect(verifyImage(dir)).rejects.toThrow(`${MANIFEST_FILE} is corrupt (not JSON)`);
    fs.rmSync(manifestPath());
    await expect(verifyImage(dir)).rejects.toMatchObject({ code: 'ECONFIG', message: `checkpoint image ${dir}: no ${MANIFEST_FILE} (not a runx checkpoint)` });
  });

  it('every refusal is one line', async () => {
    fs.writeFileSync(manifestPath(), 'garbage\nmore');
    const err = await verifyImage(dir).catch((e: Error) => e);
    expect((err as Error).message).not.toContain('\n');
  });
});
