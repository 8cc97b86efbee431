// Saving a stopped VM: its device and memory state through QEMU's migration stream to
// a file (QEMU 7.2 has no file: URI; exec:cat is its documented way). Loading it back
// is vm-boot.ts's: the file open as QEMU's fd 3 (-incoming fd:3).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../../errors';
import { sleep } from '../host/host';
import { diskFullCodeIn, diskFullText } from '../host/write-failure';
import type { QmpClient } from './qmp-client';

export const VM_STATE_FILE = 'vm.state';
/**
 * Beside a VM template's vm.state: the guest's RAM, which that state leaves out. The
 * template's VM kept its RAM in this file (QEMU share=on) and saved with x-ignore-shared;
 * a VM started from it maps the file copy-on-write (template.ts, vm-boot.ts).
 */
export const VM_RAM_FILE = 'vm.ram';

/** The RAM file saved beside `stateFile`, if there is one (a template's; never a checkpoint's). */
export function ramFileBeside(stateFile: string): string | undefined {
  const f = path.join(path.dirname(stateFile), VM_RAM_FILE);
  return fs.existsSync(f) ? f : undefined;
}

/**
 * QEMU's x-ignore-shared: while on, a migration leaves out RAM that is shared with a
 * file (share=on) and its stream says so; the loading side must have it on too. Only
 * a template's save and load use it: a checkpoint or migration must have it off.
 */
export async function setIgnoreShared(qmp: QmpClient, on: boolean): Promise<void> {
  await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: on }] });
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Writes the (stopped) VM's state to `file`; resolves when QEMU reports completion. */
export async function saveVmState(qmp: QmpClient, file: string, timeoutMs = 120_000): Promise<void> {
  await qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(file)}` });
  await awaitSave(qmp, timeoutMs);
}

/**
 * Polls a save QEMU has begun (`migrate`) until it completes. A failed or cancelled
 * one throws `why()`'s error if it has one (the writer's own, vm-state-save.ts), else
 * QEMU's words; one past timeoutMs is cancelled and throws.
 */
export async function awaitSave(qmp: QmpClient, timeoutMs: number, why: () => Promise<Error | undefined> = async () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await qmp.execute('query-migrate', {});
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw (await why()) ?? new RunxError('EQMP', `saving the VM state failed: ${info['error-desc'] ?? info.status}`);
    }
    if (Date.now() > deadline) {
      await qmp.execute('migrate_cancel', {}).catch(() => undefined);
      throw new RunxError('EQMP', `saving the VM state took longer than ${timeoutMs / 1000} s`);
    }
    await sleep(10);
  }
}

/** Copies a disk image keeping it sparse (cp knows the holes; Node's copyFile does not). */
export function copySparse(from: string, to: string): void {
  // LC_ALL=C: a full disk is recognised by cp's (strerror's) words for it.
  const cp = spawnSync('cp', ['--sparse=always', '--reflink=auto', from, to], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  if (cp.status === 0) return;
  const said = (cp.stderr || cp.error?.message || '').trim();
  throw new RunxError('EHOST', `cannot copy ${from} to ${to}: ${diskFullText(diskFullCodeIn(said)) ?? said}`);
}
