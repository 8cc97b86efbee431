// `restore`: check a checkpoint image (image-reader.ts: names, file types, sizes,
// manifest, signature), the host (same QEMU build, same CPU model) and the bundle's
// config; only then does provision() claim the id. The image's files are copied into
// the state directory, each verified against its checksum as it is copied, and the
// keeper's QEMU loads the copied VM state (-incoming) over the copied disk: nothing of
// the image is used in place, so it cannot change under a restore. A bad image leaves
// no state behind.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { log } from '../log';
import { loadBundle } from '../bundle/load-bundle';
import type { SpecConfig } from '../bundle/spec-types';
import { CARRY_DISK, type RuntimeOptions, ROOT_DISK, StateStore, VM_STATE_FILE, checkAgentProtocol, chooseAccel, containerShares, keeperExit, keeperNamespacesFor, keeperNetnsFor, netnsPathOf, provision, qemuBinary, qemuBuild, validateId, waitInForeground } from '../xcontainer';
import { vitalDifference } from './config-compat';
import { restoreBinds } from './restore-shares';
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
  // The agent inside the saved VM speaks what it spoke when saved.
  checkAgentProtocol(manifest.agentProtocol, `checkpoint image ${image}`);
  const binary = qemuBinary();
  const here = qemuBuild(binary);
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
  let bundle: ReturnType<typeof loadBundle> | undefined;
  if (fs.existsSync(path.join(opts.bundle, 'config.json'))) {
    bundle = loadBundle(opts.bundle);
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
  const binds = restoreBinds(image, manifest, imageConfig, bundle);

  const started = Date.now();
  const dir = new StateStore(opts.runtime.root).dir(opts.id);
  const { keeper } = await provision({
    // Where create put it: in the namespace the config names (the tap and the pid
    // runx reports are there), or a new one for an entry without a path.
    keeperNetns: keeperNetnsFor(linux?.namespaces),
    keeperNamespaces: keeperNamespacesFor(linux?.namespaces),
    id: opts.id,
    runtime: opts.runtime,
    keeper: { detach: opts.detach, stdio: 'inherit' },
    pidFile: opts.pidFile,
    bootErrorPrefix: `restore of ${opts.id} failed: `,
    plan: () => {
      // Into the state directory provision() has just claimed, verified before anything
      // uses them; the VM keeps running this kernel, so it must outlive the image anyway.
      reader.copyTo(ROOT_DISK, path.join(dir, ROOT_DISK), true);
      if (CARRY_DISK in manifest.files) reader.copyTo(CARRY_DISK, path.join(dir, CARRY_DISK), true);
      reader.copyTo(VM_STATE_FILE, path.join(dir, VM_STATE_FILE), false);
      reader.copyTo(IMAGE_KERNEL, path.join(dir, IMAGE_KERNEL), false);
      reader.copyTo(IMAGE_INITRAMFS, path.join(dir, IMAGE_INITRAMFS), false);
      return {
        origin: { kind: 'image', disk: path.join(dir, ROOT_DISK), stateFile: path.join(dir, VM_STATE_FILE), status: manifest.container.status },
        configText,
        config: JSON.parse(configText) as SpecConfig,
        bundle: bundleDir,
        rootfs,
        annotations: manifest.container.annotations,
        nic: netnsPath && manifest.network ? { kind: 'netns', netnsPath, mac: manifest.network.mac, required: true } : { kind: 'none' },
        qemuBinary: binary,
        accel: accel.accel,
        kernel: { path: path.join(dir, IMAGE_KERNEL) },
        initramfs: { path: path.join(dir, IMAGE_INITRAMFS) },
        shape: manifest.shape,
        shares: containerShares(binds),
        agentCreate: [],
      };
    },
  });
  // QEMU has loaded it (the VM runs): the copy only took disk space, as much as the guest's RAM.
  fs.rmSync(path.join(dir, VM_STATE_FILE), { force: true });
  log().info(`restored ${opts.id} from ${image} in ${Date.now() - started} ms`);
  if (opts.detach) return 0;
  return waitInForeground(opts.id, keeperExit(keeper), false, opts.runtime);
}
