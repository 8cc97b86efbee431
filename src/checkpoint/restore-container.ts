// `restore`: verify a checkpoint image completely, then have provision() start a
// keeper whose QEMU loads the saved VM state (-incoming) over a sparse copy of the
// saved disk. Nothing is created until the image, the host (same QEMU build, same CPU
// model) and the bundle's config have all been checked, so a bad image changes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { log } from '../log';
import { loadBundle } from '../bundle/load-bundle';
import type { SpecConfig } from '../bundle/spec-types';
import { type RuntimeOptions, ROOT_DISK, VM_STATE_FILE, checkAgentProtocol, chooseAccel, containerShares, keeperExit, netnsPathOf, provision, qemuBinary, qemuBuild, validateId, waitInForeground } from '../xcontainer';
import { vitalDifference } from './config-compat';
import { restoreBinds } from './restore-shares';
import { IMAGE_CONFIG, IMAGE_INITRAMFS, IMAGE_KERNEL, verifyImage } from './manifest';

export interface RestoreOptions {
  id: string;
  imagePath: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  detach: boolean;
  runtime: RuntimeOptions;
}

/** Returns the exit status `restore` should exit with (0 when detached). */
export async function restoreContainer(opts: RestoreOptions): Promise<number> {
  validateId(opts.id);
  if (opts.consoleSocket) throw new RunxError('EUSAGE', '--console-socket is not supported by this runx build yet');
  const image = path.resolve(opts.imagePath);
  const manifest = await verifyImage(image);
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
  const imageConfigText = fs.readFileSync(path.join(image, IMAGE_CONFIG), 'utf8');
  const imageConfig = JSON.parse(imageConfigText) as SpecConfig;
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
  const { keeper } = await provision({
    id: opts.id,
    runtime: opts.runtime,
    keeper: { detach: opts.detach, stdio: 'inherit' },
    pidFile: opts.pidFile,
    bootErrorPrefix: `restore of ${opts.id} failed: `,
    plan: () => ({
      origin: { kind: 'image', disk: path.join(image, ROOT_DISK), stateFile: path.join(image, VM_STATE_FILE), status: manifest.container.status },
      configText,
      config: JSON.parse(configText) as SpecConfig,
      bundle: bundleDir,
      rootfs,
      annotations: manifest.container.annotations,
      nic: netnsPath && manifest.network ? { kind: 'netns', netnsPath, mac: manifest.network.mac, required: true } : { kind: 'none' },
      qemuBinary: binary,
      accel: accel.accel,
      // The VM keeps running this kernel: it must outlive the image directory.
      kernel: { copyFrom: path.join(image, IMAGE_KERNEL) },
      initramfs: { copyFrom: path.join(image, IMAGE_INITRAMFS) },
      shape: manifest.shape,
      shares: containerShares(binds),
      agentCreate: [],
    }),
  });
  log().info(`restored ${opts.id} from ${image} in ${Date.now() - started} ms`);
  if (opts.detach) return 0;
  return waitInForeground(opts.id, keeperExit(keeper), false, opts.runtime);
}
