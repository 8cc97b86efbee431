// The identity of the QEMU build: a VM state stream only loads into the same build
// (microvm has no cross-version migration guarantees), so checkpoints, templates and
// migrations record it and compare it. Running `--version` costs ~30 ms, so the
// answer is cached, keyed by the binary's inode, size and mtime.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../../errors';
import { cacheDir } from '../host/cache-dir';

/** The QEMU every VM runs: RUNX_QEMU, else qemu-system-x86_64 from PATH. */
export function qemuBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.RUNX_QEMU ?? 'qemu-system-x86_64';
}

function resolveBinary(binary: string): string | undefined {
  if (binary.includes('/')) return path.resolve(binary);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir || '.', binary);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return undefined;
}

function cacheFile(file: string, st: fs.Stats): string {
  const id = createHash('sha256').update(`${file}\0${st.ino}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 20);
  return path.join(cacheDir(), 'qemu-build', id);
}

/** The first line of `qemu-system-x86_64 --version`, e.g. "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)". */
export function qemuBuild(binary: string): string {
  const file = resolveBinary(binary);
  const st = file ? fs.statSync(file, { throwIfNoEntry: false }) : undefined;
  const cached = file && st ? cacheFile(file, st) : undefined;
  if (cached) {
    try {
      return fs.readFileSync(cached, 'utf8');
    } catch { /* not cached yet */ }
  }
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new RunxError('EHOST', `cannot run ${binary} --version: ${r.error?.message ?? r.stderr.trim()}`);
  const line = r.stdout.split('\n')[0]!.trim();
  if (cached) {
    try {
      fs.mkdirSync(path.dirname(cached), { recursive: true });
      fs.writeFileSync(`${cached}.${process.pid}`, line);
      fs.renameSync(`${cached}.${process.pid}`, cached);
    } catch { /* a cache we cannot write is only slower */ }
  }
  return line;
}
