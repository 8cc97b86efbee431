// The identity of the QEMU build: a VM state stream only loads into the same build
// (microvm has no cross-version migration guarantees), so checkpoints record it and
// restore and migration compare it.
import { spawnSync } from 'node:child_process';
import { RunxError } from '../errors';

/** The first line of `qemu-system-x86_64 --version`, e.g. "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)". */
export function qemuBuild(binary: string): string {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new RunxError('EHOST', `cannot run ${binary} --version: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout.split('\n')[0]!.trim();
}
