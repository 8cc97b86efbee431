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
import { versionText } from '../oci-cli/version';
import { PROTOCOL_VERSION } from '../xcontainer/agent/agent-frames';
import { waitForExit } from '../xcontainer/host/host';
import { askKeeper } from '../xcontainer/keeper/keeper-client';
import { KEEPER_SOCKET, LAUNCH_FILE, type KeeperLaunch } from '../xcontainer/keeper/keeper-launch';
import { qemuBuild } from '../xcontainer/vm/qemu-build';
import { MACHINE } from '../xcontainer/vm/qemu-argv';
import type { RuntimeOptions } from '../xcontainer/container/runtime-options';
import { StateStore } from '../xcontainer/state/state-store';
import { trustedGuestFiles } from '../xcontainer/state/launch-trust';
import { digestText } from './file-digest';
import { ImageWriter } from './image-writer';
import { readSigningKey, type SigningKey } from './manifest-signature';
import { IMAGE_CONFIG, IMAGE_FILES, IMAGE_INITRAMFS, IMAGE_KERNEL, FORMAT, FORMAT_VERSION, writeManifest } from './manifest';

export interface CheckpointOptions {
  imagePath: string;
  leaveRunning: boolean;
  preDump: boolean;
  parentPath?: string;
  /** `--sign-key`: a key file whose key signs the manifest. */
  signKey?: string;
  /** The key itself, for callers that derive one (the spot daemon: from a peer's token). */
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
    const launch = JSON.parse(fs.readFileSync(store.file(id, LAUNCH_FILE), 'utf8')) as KeeperLaunch;
    const guest = trustedGuestFiles(store.dir(id), launch);
    const image = ImageWriter.begin(path.resolve(opts.imagePath));
    try {
      // COPYFILE_EXCL: the staging directory is new, so nothing can be there to follow.
      fs.copyFileSync(guest.kernel, image.file(IMAGE_KERNEL), fs.constants.COPYFILE_EXCL);
      fs.copyFileSync(guest.initramfs, image.file(IMAGE_INITRAMFS), fs.constants.COPYFILE_EXCL);
      const configText = fs.readFileSync(store.file(id, 'config.json'), 'utf8');
      fs.writeFileSync(image.file(IMAGE_CONFIG), configText, { flag: 'wx', mode: 0o600 });
      const started = Date.now();
      const reply = await askKeeper(store.file(id, KEEPER_SOCKET), { op: 'checkpoint', dir: image.sharedPath(), leaveRunning: opts.leaveRunning }, 300_000);
      if (!reply.ok) throw new RunxError('ESTATE', `checkpoint of ${id} failed: ${reply.error}`);
      log().info(`checkpoint of ${id}: VM state and disk written in ${Date.now() - started} ms`);
      await writeManifest(image.localPath(), {
        format: FORMAT,
        formatVersion: FORMAT_VERSION,
        runxVersion: versionText().split('\n')[0]!,
        created: new Date().toISOString(),
        qemu: { build: qemuBuild(launch.qemuBinary), machine: MACHINE, cpu: launch.qemu.accel === 'kvm' ? 'host' : 'max', accel: launch.qemu.accel },
        shape: launch.qemu.shape,
        agentProtocol: PROTOCOL_VERSION,
        configDigest: digestText(configText),
        container: { id, status: status === 'created' ? 'created' : 'running', bundle: rec.bundle, annotations: rec.annotations },
        shares: launch.qemu.shares,
        network: launch.qemu.network ? { mac: launch.qemu.network.mac } : undefined,
      }, IMAGE_FILES, key);
      image.publish();
    } finally {
      image.end();
    }
    if (!opts.leaveRunning) await waitForExit(rec.keeperPid, rec.keeperStartTime, 10_000);
  });
}
