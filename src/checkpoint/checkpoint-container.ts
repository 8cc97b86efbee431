// `checkpoint`: the whole VM (device and memory state plus a copy of its root disk,
// taken at one instant) and what restoring it needs (kernel, initramfs, config) go to
// --image-path, with a manifest of checksums. runc's CRIU-specific flags are accepted;
// those that mean nothing for a whole-VM image are listed in the README.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { log } from '../log';
import { runxVersionLine } from '../runx-version';
import { KEEPER_SOCKET, ROOT_DISK, type RuntimeOptions, StateStore, VM_STATE_FILE, callKeeper, readVm, waitForExit } from '../xcontainer';
import { digestText } from './file-digest';
import { IMAGE_CONFIG, IMAGE_INITRAMFS, IMAGE_KERNEL, MANIFEST_FILE, FORMAT, FORMAT_VERSION, manifestVmOf, writeManifest } from './manifest';

export interface CheckpointOptions {
  imagePath: string;
  leaveRunning: boolean;
  preDump: boolean;
  parentPath?: string;
}

const IMAGE_FILES = [VM_STATE_FILE, ROOT_DISK, IMAGE_KERNEL, IMAGE_INITRAMFS, IMAGE_CONFIG];

export async function checkpointContainer(id: string, opts: CheckpointOptions, runtime: RuntimeOptions): Promise<void> {
  if (opts.preDump || opts.parentPath) {
    throw new RunxError('EUSAGE', `${opts.preDump ? '--pre-dump' : '--parent-path'}: incremental (dirty-page) checkpoints are not supported by runx yet; take a full checkpoint`);
  }
  const store = new StateStore(runtime.root);
  await store.withLock(id, async () => {
    const { rec, status } = store.readLive(id);
    if (status !== 'running' && status !== 'created' && status !== 'paused') throw new RunxError('ESTATE', `cannot checkpoint container ${id}: it is ${status}`);
    const { spec } = readVm(store.dir(id));
    const dir = path.resolve(opts.imagePath);
    fs.mkdirSync(dir, { recursive: true });
    const written = [...IMAGE_FILES, MANIFEST_FILE].map((f) => path.join(dir, f));
    try {
      fs.copyFileSync(spec.kernel, path.join(dir, IMAGE_KERNEL));
      fs.copyFileSync(spec.initramfs, path.join(dir, IMAGE_INITRAMFS));
      const configText = fs.readFileSync(store.file(id, 'config.json'), 'utf8');
      fs.writeFileSync(path.join(dir, IMAGE_CONFIG), configText);
      const started = Date.now();
      await callKeeper(store.file(id, KEEPER_SOCKET), 'checkpoint', { dir, leaveRunning: opts.leaveRunning }, { timeoutMs: 300_000 }).catch((err: RunxError) => {
        throw new RunxError(err.code, `checkpoint of ${id} failed: ${err.message}`, { cause: err });
      });
      log().info(`checkpoint of ${id}: VM state and disk written in ${Date.now() - started} ms`);
      await writeManifest(dir, {
        format: FORMAT,
        formatVersion: FORMAT_VERSION,
        runxVersion: runxVersionLine(),
        created: new Date().toISOString(),
        // The VM as its keeper has it after the save (vm-state.json).
        ...manifestVmOf(spec, readVm(store.dir(id)).state),
        configDigest: digestText(configText),
        container: { id, status: status === 'created' ? 'created' : 'running', bundle: rec.bundle, annotations: rec.annotations },
      }, IMAGE_FILES);
    } catch (err) {
      for (const f of written) fs.rmSync(f, { force: true });
      throw err;
    }
    if (!opts.leaveRunning) await waitForExit(rec.keeperPid, rec.keeperStartTime, 10_000);
  });
}
