// `checkpoint`: the whole VM (device and memory state plus a copy of its root disk,
// taken at one instant) and what restoring it needs (kernel, initramfs, config) go to
// --image-path, with a manifest of checksums. runc's CRIU-specific flags are accepted;
// those that mean nothing for a whole-VM image are listed in the README. The files are
// written into a fresh directory and renamed into place (image-writer.ts), so nothing
// planted in --image-path is written through; --sign-key adds a MAC of the manifest.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { log, logOptions } from '../log';
import { runxVersionLine } from '../runx-version';
import { type ContainerRecord, KEEPER_SOCKET, KeeperGoneError, type RuntimeOptions, StateStore, callKeeper, readVm, refuseLiveShares, waitForExit } from '../xcontainer';
import { WRITE_BACK_TIMEOUT_MS, type WriteBackProgress, isWriteBackProgress } from '../xcontainer/keeper/ops/write-back';
import { trustedGuestFiles } from '../xcontainer/state/launch-trust';
import { digestText } from './file-digest';
import { ImageWriter } from './image-writer';
import { readSigningKey, type SigningKey } from './manifest-signature';
import { IMAGE_CONFIG, IMAGE_ENGINE_MARKER, IMAGE_ENGINE_MARKER_TEXT, IMAGE_INITRAMFS, IMAGE_KERNEL, FORMAT, FORMAT_VERSION, MANIFEST_FILE, manifestVmOf, writeManifest } from './manifest';

/** The VM's save and the copy of its disks. */
const SAVE_TIMEOUT_MS = 300_000;

export interface CheckpointOptions {
  imagePath: string;
  leaveRunning: boolean;
  preDump: boolean;
  parentPath?: string;
  /** `--sign-key`: a key file whose key signs the manifest. */
  signKey?: string;
  /** The key itself, for callers that derive one (keyFromToken). */
  signingKey?: SigningKey;
}

export async function checkpointContainer(id: string, opts: CheckpointOptions, runtime: RuntimeOptions): Promise<void> {
  if (opts.preDump || opts.parentPath) {
    throw new RunxError('EUSAGE', `${opts.preDump ? '--pre-dump' : '--parent-path'}: incremental (dirty-page) checkpoints are not supported by runx yet; take a full checkpoint`);
  }
  const key = opts.signingKey ?? (opts.signKey ? readSigningKey(opts.signKey, '--sign-key') : undefined);
  const store = new StateStore(runtime.root);
  await store.withLock(id, async () => {
    const { rec, status } = store.readLive(id);
    if (status !== 'running' && status !== 'created' && status !== 'paused') throw new RunxError('ESTATE', `cannot checkpoint container ${id}: it is ${status}`);
    const { spec, state } = readVm(store.dir(id));
    refuseLiveShares(`cannot checkpoint container ${id}`, state.devices.shares);
    const guest = trustedGuestFiles(store.dir(id), spec);
    const image = ImageWriter.begin(path.resolve(opts.imagePath));
    try {
      // COPYFILE_EXCL: the staging directory is new, so nothing can be there to follow.
      await image.writing(IMAGE_KERNEL, () => fs.copyFileSync(guest.kernel, image.file(IMAGE_KERNEL), fs.constants.COPYFILE_EXCL));
      await image.writing(IMAGE_INITRAMFS, () => fs.copyFileSync(guest.initramfs, image.file(IMAGE_INITRAMFS), fs.constants.COPYFILE_EXCL));
      const configText = fs.readFileSync(store.file(id, 'config.json'), 'utf8');
      await image.writing(IMAGE_CONFIG, () => fs.writeFileSync(image.file(IMAGE_CONFIG), configText, { flag: 'wx', mode: 0o600 }));
      await image.writing(IMAGE_ENGINE_MARKER, () => fs.writeFileSync(image.file(IMAGE_ENGINE_MARKER), IMAGE_ENGINE_MARKER_TEXT, { flag: 'wx', mode: 0o600 }));
      const started = Date.now();
      let writeBack: WriteBackProgress['writeBack'] | undefined;
      const onProgress = (p: unknown) => { if (isWriteBackProgress(p)) writeBack = p.writeBack; };
      await callKeeper(store.file(id, KEEPER_SOCKET), 'checkpoint', { dir: image.sharedPath(), leaveRunning: opts.leaveRunning }, { timeoutMs: SAVE_TIMEOUT_MS + WRITE_BACK_TIMEOUT_MS, onProgress }).catch(async (err: RunxError) => {
        const why = err instanceof KeeperGoneError ? await keeperLost(store, rec, err) : err.message;
        throw new RunxError(err.code, `checkpoint of ${id} failed: ${why}`, { cause: err });
      });
      const wb = writeBack ? `, read-write binds written back in ${writeBack.ms} ms of it` : '';
      log().info(`checkpoint of ${id}: VM state and disk written in ${Date.now() - started} ms${writeBack?.error ? '' : wb}`);
      if (writeBack?.error) warn(writeBack.error);
      await image.writing(MANIFEST_FILE, () => writeManifest(image.localPath(), {
        format: FORMAT,
        formatVersion: FORMAT_VERSION,
        runxVersion: runxVersionLine(),
        created: new Date().toISOString(),
        // The VM as its keeper has it after the save (vm-state.json).
        ...manifestVmOf(spec, readVm(store.dir(id)).state),
        configDigest: digestText(configText),
        container: { id, status: status === 'created' ? 'created' : 'running', bundle: rec.bundle, annotations: rec.annotations },
      }, image.fileNames(), key));
      image.publish();
    } finally {
      image.end();
    }
    if (!opts.leaveRunning) await waitForExit(rec.keeperPid, rec.keeperStartTime, 10_000);
  });
}

/**
 * One line in the runx log and on stderr: the image is good, so the checkpoint
 * succeeds (an engine that saw it fail could discard the one copy of the data).
 */
function warn(msg: string): void {
  log().warn(msg);
  // Without --log, that line went to stderr already.
  if (logOptions().file) process.stderr.write(`runx: warning: ${msg}\n`);
}

/**
 * Why the keeper went without answering, from what it left behind: its record says
 * the VM ended under it (QEMU's death ends the keeper, status 255), or it died itself
 * (killed: it had no time to say). Either way the container has stopped, and QEMU
 * with its keeper (parent-death signal).
 */
async function keeperLost(store: StateStore, rec: ContainerRecord, err: KeeperGoneError): Promise<string> {
  const gone = await waitForExit(rec.keeperPid, rec.keeperStartTime, 2000);
  let now: ContainerRecord | undefined;
  try {
    now = store.read(rec.id);
  } catch { /* unreadable: say what we saw */ }
  if (now?.status === 'stopped' && now.exitStatus === 255) return 'its VM (QEMU) ended during the save; the container is stopped';
  if (gone) return `its keeper (pid ${rec.keeperPid}) died during the save; the container is stopped`;
  return err.message;
}
