import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordedSha256 } from '../../../../src/xcontainer/template/digest-record';
import { templateKey, VERIFIED_RECORD, verifyTemplate } from '../../../../src/xcontainer/template/template';
import { TEMPLATE_FORMAT } from '../../../../src/xcontainer/template/template-cache';

// A digest is recorded only for a file last changed more than a second before it was
// hashed, so the fixtures are written once and left to settle.
const SETTLE_MS = 1100;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let work: string;
const savedCacheDir = process.env.RUNX_CACHE_DIR;

/** Rewrites bytes in place, same size, and puts the old mtime back: only ctime tells. */
function corruptInPlace(file: string): void {
  const st = fs.statSync(file);
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, Buffer.from('garbage'), 0, 7, 4096);
  } finally {
    fs.closeSync(fd);
  }
  fs.utimesSync(file, st.atime, st.mtime);
}

function makeTemplate(dir: string, key: string, build: string, state: Buffer, ram = randomBytes(128 * 1024)): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'vm.state'), state);
  fs.writeFileSync(path.join(dir, 'vm.ram'), ram);
  fs.writeFileSync(path.join(dir, 'template.json'), JSON.stringify({
    format: TEMPLATE_FORMAT, key, qemuBuild: build, created: new Date().toISOString(), stateSha256: sha256(state), stateSize: state.length,
    ramSha256: sha256(ram), ramSize: ram.length,
  }));
}

const files = {
  plain: '', touched: '', corrupted: '', replaced: '', template: '', corruptTemplate: '', corruptRam: '', kernel: '', initramfs: '',
};
const content = randomBytes(64 * 1024);

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-template-verify-'));
  process.env.RUNX_CACHE_DIR = path.join(work, 'cache');
  for (const k of ['plain', 'touched', 'corrupted', 'replaced', 'kernel', 'initramfs'] as const) {
    files[k] = path.join(work, k);
    fs.writeFileSync(files[k], content);
  }
  files.template = path.join(work, 'tpl');
  makeTemplate(files.template, 'k1', 'qemu 7.2', randomBytes(256 * 1024));
  files.corruptTemplate = path.join(work, 'tpl-corrupt');
  makeTemplate(files.corruptTemplate, 'k2', 'qemu 7.2', randomBytes(256 * 1024));
  files.corruptRam = path.join(work, 'tpl-corrupt-ram');
  makeTemplate(files.corruptRam, 'k3', 'qemu 7.2', randomBytes(256 * 1024));
  await sleep(SETTLE_MS);
});

afterAll(() => {
  if (savedCacheDir === undefined) delete process.env.RUNX_CACHE_DIR;
  else process.env.RUNX_CACHE_DIR = savedCacheDir;
  fs.rmSync(work, { recursive: true, force: true });
});

describe('recorded file digests', () => {
  const record = (): string => path.join(work, 'record.json');

  it('hashes a file once, then reuses the digest while the file is unchanged', () => {
    const [first] = recordedSha256([files.plain], record());
    expect(first).toMatchObject({ sha256: sha256(content), size: content.length, hashed: true });
    const [second] = recordedSha256([files.plain], record());
    expect(second).toMatchObject({ sha256: sha256(content), hashed: false });
  });

  it('hashes a touched file again', () => {
    expect(recordedSha256([files.touched], record())[0]!.hashed).toBe(true);
    expect(recordedSha256([files.touched], record())[0]!.hashed).toBe(false);
    const now = new Date();
    fs.utimesSync(files.touched, now, now);
    expect(recordedSha256([files.touched], record())[0]).toMatchObject({ sha256: sha256(content), hashed: true });
  });

  it('sees a same-size change whose mtime was put back (ctime moved)', () => {
    recordedSha256([files.corrupted], record());
    expect(recordedSha256([files.corrupted], record())[0]!.hashed).toBe(false);
    corruptInPlace(files.corrupted);
    const [d] = recordedSha256([files.corrupted], record());
    expect(d!.hashed).toBe(true);
    expect(d!.sha256).toBe(sha256(fs.readFileSync(files.corrupted)));
    expect(d!.sha256).not.toBe(sha256(content));
  });

  it('hashes a file replaced by another inode of the same size and content', () => {
    recordedSha256([files.replaced], record());
    expect(recordedSha256([files.replaced], record())[0]!.hashed).toBe(false);
    const st = fs.statSync(files.replaced);
    fs.writeFileSync(`${files.replaced}.new`, content);
    fs.utimesSync(`${files.replaced}.new`, st.atime, st.mtime);
    fs.renameSync(`${files.replaced}.new`, files.replaced);
    expect(recordedSha256([files.replaced], record())[0]!.hashed).toBe(true);
  });

  it('does not record a file changed just before it was hashed', () => {
    const fresh = path.join(work, 'fresh');
    fs.writeFileSync(fresh, content);
    expect(recordedSha256([fresh], record())[0]!.hashed).toBe(true);
    expect(recordedSha256([fresh], record())[0]!.hashed).toBe(true);
  });

  it('treats an unreadable record as none, and a file that is gone as an error', () => {
    const bad = path.join(work, 'bad-record.json');
    fs.writeFileSync(bad, '{"format":1,"files":{"x":');
    expect(recordedSha256([files.plain], bad)[0]).toMatchObject({ sha256: sha256(content), hashed: true });
    expect(() => recordedSha256([path.join(work, 'missing')], bad)).toThrow(/ENOENT/);
  });
});

describe('template verification', () => {
  it('trusts the record of an unchanged vm.state instead of hashing it', () => {
    const state = path.join(files.template, 'vm.state');
    expect(verifyTemplate(files.template, 'k1', 'qemu 7.2')).toBe(state);
    const recordFile = path.join(files.template, VERIFIED_RECORD);
    const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { files: Record<string, { sha256: string }> };
    expect(record.files[state]!.sha256).toBe(sha256(fs.readFileSync(state)));
    // Proof that the file is not read: a digest that only the record and the manifest
    // agree on still passes, which hashing would have refused.
    const fake = 'f'.repeat(64);
    record.files[state]!.sha256 = fake;
    fs.writeFileSync(recordFile, JSON.stringify(record));
    const manifestFile = path.join(files.template, 'template.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { stateSha256: string };
    fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, stateSha256: fake }));
    expect(verifyTemplate(files.template, 'k1', 'qemu 7.2')).toBe(state);
  });

  it('refuses a recorded vm.state corrupted in place afterwards', () => {
    const state = path.join(files.corruptTemplate, 'vm.state');
    expect(verifyTemplate(files.corruptTemplate, 'k2', 'qemu 7.2')).toBe(state);
    expect(fs.existsSync(path.join(files.corruptTemplate, VERIFIED_RECORD))).toBe(true);
    corruptInPlace(state);
    expect(() => verifyTemplate(files.corruptTemplate, 'k2', 'qemu 7.2')).toThrow('vm.state does not match its checksum');
    fs.truncateSync(state, 1000);
    expect(() => verifyTemplate(files.corruptTemplate, 'k2', 'qemu 7.2')).toThrow('vm.state does not match its checksum');
  });

  it('refuses a recorded vm.ram corrupted in place afterwards, or missing', () => {
    const ram = path.join(files.corruptRam, 'vm.ram');
    expect(verifyTemplate(files.corruptRam, 'k3', 'qemu 7.2')).toBe(path.join(files.corruptRam, 'vm.state'));
    corruptInPlace(ram);
    expect(() => verifyTemplate(files.corruptRam, 'k3', 'qemu 7.2')).toThrow('vm.ram does not match its checksum');
    fs.rmSync(ram);
    expect(() => verifyTemplate(files.corruptRam, 'k3', 'qemu 7.2')).toThrow(/ENOENT/);
  });

  it('refuses a manifest for other inputs, and finds no template where there is none', () => {
    expect(() => verifyTemplate(files.template, 'other-key', 'qemu 7.2')).toThrow('its manifest does not match');
    expect(verifyTemplate(path.join(work, 'no-template'), 'k1', 'qemu 7.2')).toBeUndefined();
  });

  it('keys templates by kernel and initramfs content, recorded or hashed', () => {
    const inputs = { kernel: files.kernel, initramfs: files.initramfs, qemuBinary: 'qemu', accel: 'tcg' as const, shape: { memoryMiB: 256, vcpus: 1 }, devices: { nic: false, shares: 0 } };
    const k1 = templateKey(inputs, 'qemu 7.2');
    // A VM loads a state only into the same devices: each set has its own template.
    const withDevices = [{ nic: true, shares: 0 }, { nic: false, shares: 1 }, { nic: true, shares: 1 }, { nic: true, shares: 2 }]
      .map((devices) => templateKey({ ...inputs, devices }, 'qemu 7.2'));
    expect(new Set([k1, ...withDevices]).size).toBe(5);
    // The templates directory exists once a template has been built.
    fs.mkdirSync(path.join(work, 'cache', 'templates'), { recursive: true });
    expect(templateKey(inputs, 'qemu 7.2')).toBe(k1);
    expect(fs.existsSync(path.join(work, 'cache', 'templates', 'inputs.verified.json'))).toBe(true);
    expect(templateKey(inputs, 'qemu 7.2')).toBe(k1);
    corruptInPlace(files.kernel);
    expect(templateKey(inputs, 'qemu 7.2')).not.toBe(k1);
  });
});
