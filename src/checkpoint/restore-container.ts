// `restore`: check a checkpoint image (image-reader.ts: names, file types, sizes,
// manifest, signature), the host (same QEMU build, same CPU model) and the bundle's
// config, and only then claim the id: the image's files are copied into the state
// directory, their checksums verified as they are copied, and a keeper starts whose
// QEMU loads the copied VM state (-incoming) over the copied disk. Nothing of the
// image is used in place, so it cannot change under a running restore. A bad image
// leaves no state behind.
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { RunxError } from '../errors';
import { log } from '../log';
import { loadBundle } from '../bundle/load-bundle';
import type { SpecConfig } from '../bundle/spec-types';
import { chooseAccel } from '../xcontainer/vm/accel';
import { OCI_VERSION, type ContainerRecord } from '../xcontainer/state/container-record';
import { keeperExit, waitInForeground } from '../xcontainer/container/container-run';
import { type HostCgroup, makeHostCgroup, removeHostCgroup } from '../xcontainer/cgroup/host-cgroup';
import { writePidFile } from '../xcontainer/container/container-create';
import type { KeeperLaunch } from '../xcontainer/keeper/keeper-launch';
import { type GuestNetwork, netnsPathOf, setupNetwork, teardownNetwork } from '../xcontainer/devices/net/config';
import { abandon, keeperReadiness, spawnKeeper, writeLaunch } from '../xcontainer/keeper/keeper-spawn';
import { qemuBuild } from '../xcontainer/vm/qemu-build';
import { ROOT_DISK } from '../xcontainer/vm/qemu-argv';
import type { RuntimeOptions } from '../xcontainer/container/runtime-options';
import { StateStore, validateId } from '../xcontainer/state/state-store';
import { VM_STATE_FILE } from '../xcontainer/vm/vm-snapshot';
import { vitalDifference } from './config-compat';
import { ImageReader } from './image-reader';
import { readSigningKey } from './manifest-signature';
import { IMAGE_CONFIG, IMAGE_INITRAMFS, IMAGE_KERNEL } from './manifest';

export interface RestoreOptions {
  id: string;
  imagePath: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  detach: boolean;
  /** `--verify-key`: the image must be signed with this key file's key. */
  verifyKey?: string;
  runtime: RuntimeOptions;
}

/** Returns the exit status `restore` should exit with (0 when detached). */
export async function restoreContainer(opts: RestoreOptions): Promise<number> {
  validateId(opts.id);
  if (opts.consoleSocket) throw new RunxError('EUSAGE', '--console-socket is not supported by this runx build yet');
  const image = path.resolve(opts.imagePath);
  const reader = ImageReader.open(image, opts.verifyKey ? readSigningKey(opts.verifyKey, '--verify-key') : undefined);
  try {
    return await restoreFrom(reader, image, opts);
  } finally {
    reader.close();
  }
}

async function restoreFrom(reader: ImageReader, image: string, opts: RestoreOptions): Promise<number> {
  const manifest = reader.manifest;
  const qemuBinary = process.env.RUNX_QEMU ?? 'qemu-system-x86_64';
  const here = qemuBuild(qemuBinary);
  if (here !== manifest.qemu.build) {
    throw new RunxError('ECONFIG', `checkpoint image ${image} was taken with "${manifest.qemu.build}"; this host runs "${here}" (the same QEMU build is required)`);
  }
  const accel = chooseAccel(opts.runtime.accel);
  if (accel.accel !== manifest.qemu.accel) {
    throw new RunxError('ECONFIG', `checkpoint image ${image} needs CPU model "${manifest.qemu.cpu}" under ${manifest.qemu.accel}; this host would use ${accel.accel}`);
  }
  const imageConfigText = reader.readText(IMAGE_CONFIG);
  let imageConfig: SpecConfig;
  try {
    imageConfig = JSON.parse(imageConfigText) as SpecConfig;
  } catch {
    throw new RunxError('ECONFIG', `checkpoint image ${image}: ${IMAGE_CONFIG} is not JSON`);
  }
  let configText = imageConfigText;
  let bundleDir = manifest.container.bundle;
  let rootfs = path.resolve(bundleDir, imageConfig.root?.path ?? 'rootfs');
  if (fs.existsSync(path.join(opts.bundle, 'config.json'))) {
    const bundle = loadBundle(opts.bundle);
    const diff = vitalDifference(imageConfig, bundle.config);
    if (diff) throw new RunxError('ECONFIG', `bundle ${bundle.dir}: config.json differs from the checkpoint's in ${diff}`);
    configText = bundle.configText;
    bundleDir = bundle.dir;
    rootfs = bundle.rootfs;
  }
  // The VM's device layout must be the one it was saved with: a NIC needs a network
  // namespace to sit in here (the bundle's), and none may be added.
  const linux = (JSON.parse(configText) as SpecConfig).linux;
  const netnsPath = netnsPathOf(linux?.namespaces);
  if (manifest.network && !netnsPath) {
    throw new RunxError('ECONFIG', `checkpoint image ${image} has a network interface: restore it with a bundle whose config.json names a network namespace path`);
  }
  if (!manifest.network && netnsPath) {
    throw new RunxError('ECONFIG', `checkpoint image ${image} has no network interface, but the bundle names network namespace ${netnsPath}`);
  }
  for (const share of manifest.shares) {
    if (!fs.existsSync(share.hostPath)) throw new RunxError('ECONFIG', `checkpoint image ${image}: bind-mounted host directory ${share.hostPath} does not exist here`);
  }

  const store = new StateStore(opts.runtime.root);
  const dir = store.claim(opts.id);
  let keeper: ChildProcess | undefined;
  let network: GuestNetwork | undefined;
  let cgroup: HostCgroup | undefined;
  try {
    // Copied out and verified before anything uses them; the VM keeps running this
    // kernel, so it must outlive the image directory anyway.
    reader.copyTo(ROOT_DISK, path.join(dir, ROOT_DISK), true);
    reader.copyTo(VM_STATE_FILE, path.join(dir, VM_STATE_FILE), false);
    reader.copyTo(IMAGE_KERNEL, path.join(dir, IMAGE_KERNEL), false);
    reader.copyTo(IMAGE_INITRAMFS, path.join(dir, IMAGE_INITRAMFS), false);
    cgroup = makeHostCgroup(linux, opts.id, opts.runtime.systemdCgroup);
    if (netnsPath && manifest.network) {
      const found = setupNetwork(netnsPath);
      if (!found) throw new RunxError('ECONFIG', `network namespace ${netnsPath} has no interface for the restored VM's NIC`);
      // The guest keeps the MAC it was saved with (virtio-net's state carries it).
      network = { ...found, mac: manifest.network.mac };
    }
    fs.writeFileSync(path.join(dir, 'config.json'), configText);
    const record: ContainerRecord = {
      ociVersion: OCI_VERSION, id: opts.id, status: 'creating', bundle: bundleDir, rootfs,
      created: new Date().toISOString(), owner: '', annotations: manifest.container.annotations, keeperPid: 0, cgroup,
    };
    store.write(record);
    const launch: KeeperLaunch = {
      id: opts.id,
      root: path.resolve(opts.runtime.root),
      qemuBinary,
      qemu: {
        accel: accel.accel,
        kernel: path.join(dir, IMAGE_KERNEL),
        initramfs: path.join(dir, IMAGE_INITRAMFS),
        shape: manifest.shape,
        shares: manifest.shares,
        network,
      },
      agentCreate: [],
      bootTimeoutMs: Number(process.env.RUNX_BOOT_TIMEOUT_MS) || 30_000,
      log: opts.runtime.log,
      restore: { stateFile: path.join(dir, VM_STATE_FILE), status: manifest.container.status },
      cgroup,
    };
    writeLaunch(dir, launch);
    const started = Date.now();
    keeper = spawnKeeper(dir, opts.detach);
    const reply = await keeperReadiness(keeper);
    if (!reply.ok) throw new RunxError('EBOOT', `restore of ${opts.id} failed: ${reply.error}`);
    // QEMU has loaded it (the VM runs): the copy only took disk space, as much as the guest's RAM.
    fs.rmSync(path.join(dir, VM_STATE_FILE), { force: true });
    log().info(`restored ${opts.id} from ${image} in ${Date.now() - started} ms`);
    if (opts.pidFile) writePidFile(opts.pidFile, keeper.pid!);
  } catch (err) {
    await abandon(store, opts.id, keeper);
    if (network) teardownNetwork(network);
    if (cgroup) await removeHostCgroup(cgroup);
    throw err;
  }
  if (opts.detach) return 0;
  return waitInForeground(opts.id, keeperExit(keeper), false, opts.runtime);
}
