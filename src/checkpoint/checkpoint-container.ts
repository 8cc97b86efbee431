// `checkpoint`: the whole VM (device and memory state plus a copy of its root disk,
// taken at one instant) and what restoring it needs (kernel, initramfs, config) go to
// --image-path, with a manifest of checksums. runc's CRIU-specific flags are accepted;
// those that mean nothing for a whole-VM image are listed in the README. The files are
// written into a fresh directory and renamed into place (image-writer.ts), so nothing
// planted in --image-path is written through; --sign-key adds a MAC of the manifest.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { log } from '../log';
import { runxVersionLine } from '../runx-version';
import { KEEPER_SOCKET, type RuntimeOptions, StateStore, callKeeper, readVm, refuseLiveShares, waitForExit } from '../xcontainer';
import { trustedGuestFiles } from '../xcontainer/state/launch-trust';
import { digestText } from './file-digest';
import { ImageWriter } from './image-writer';
import { readSigningKey, type SigningKey } from './manifest-signature';
import { IMAGE_CONFIG, IMAGE_ENGINE_MARKER, IMAGE_ENGINE_MARKER_TEXT, IMAGE_INITRAMFS, IMAGE_KERNEL, FORMAT, FORMAT_VERSION, manifestVmOf, writeManifest } from './manifest';

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
      fs.copyFileSync(guest.kernel, image.file(IMAGE_KERNEL), fs.constants.COPYFILE_EXCL);
      fs.copyFileSync(guest.initramfs, image.file(IMAGE_INITRAMFS), fs.constants.COPYFILE_EXCL);
      const configText = fs.readFileSync(store.file(id, 'config.json'), 'utf8');
      fs.writeFileSync(image.file(IMAGE_CONFIG), configText, { flag: 'wx', mode: 0o600 });
      fs.writeFileSync(image.file(IMAGE_ENGINE_MARKER), IMAGE_ENGINE_MARKER_TEXT, { flag: 'wx', mode: 0o600 });
      const started = Date.now();
      await callKeeper(store.file(id, KEEPER_SOCKET), 'checkpoint', { dir: image.sharedPath(), leaveRunning: opts.leaveRunning }, { timeoutMs: 300_000 }).catch((err: RunxError) => {
        throw new RunxError(err.code, `checkpoint of ${id} failed: ${err.message}`, { cause: err });
      });
      log().info(`checkpoint of ${id}: VM state and disk written in ${Date.now() - started} ms`);
      await writeManifest(image.localPath(), {
        format: FORMAT,
        formatVersion: FORMAT_VERSION,
        runxVersion: runxVersionLine(),
        created: new Date().toISOString(),
        // The VM as its keeper has it after the save (vm-state.json).
        ...manifestVmOf(spec, readVm(store.dir(id)).state),
        configDigest: digestText(configText),
        container: { id, status: status === 'created' ? 'created' : 'running', bundle: rec.bundle, annotations: rec.annotations },
      }, image.fileNames(), key);
      image.publish();
    } finally {
      image.end();
    }
    if (!opts.leaveRunning) await waitForExit(rec.keeperPid, rec.keeperStartTime, 10_000);
  });
}
