// Snapshot boot: a template per (kernel, initramfs, QEMU build, accelerator, VM shape,
// devices) is a guest booted once to "agent ready" and saved stopped (QMP migrate to a
// file). `create` starts the container's QEMU from it (-incoming) instead of booting a
// kernel, then hands the agent everything per-container (disk, config, clock, a fresh
// random seed, the NIC's MAC and address).
// A VM loads a saved state only into the same devices in the same slots, so a
// container with a NIC or bind mounts (every Docker and Kubernetes one: /etc/hosts and
// its friends are binds) needs a template with a NIC and a 9p share (one holds all
// its binds: devices/share), built with placeholders: a tap in a namespace of its
// own, empty directories. The guest
// only probed them there; what it mounts and the address it uses come at create.
// Templates live in the runx cache, are checked before use and rebuilt when an input
// changes; a missing or broken one means a cold boot with a warning.
// The guest's RAM is not in vm.state but in vm.ram beside it: the template's VM had
// its RAM in that file, and each VM started from it maps the file copy-on-write, so
// what the guest has not written since (its kernel, most of what it booted with) is
// one copy in the host's page cache for all of them.
// The check is on every create's path, so the digests it needs come from sidecar
// records (digest-record.ts) and files are read only when they have changed.
// `runx template build` builds one ahead of time (buildTemplate); listing and pruning
// the cache, and the "last used" mark, are template-cache.ts's.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { messageOf, RunxError } from '../../errors';
import { log } from '../../log';
import { loadBundle } from '../../bundle/load-bundle';
import type { VmSpec } from '../vm/vm-spec';
import { PROTOCOL_VERSION } from '../agent/agent-frames';
import { recordedSha256, sha256File } from './digest-record';
import { type Accel, type AccelMode, chooseAccel } from '../vm/accel';
import { findGuestAssets } from '../vm/guest-assets';
import { DEFAULT_SHAPE, guestRamKiB, KERNEL_CMDLINE, MACHINE, ROOT_DISK, shapeFromResources, type VmShape } from '../vm/qemu-argv';
import { describeDevices, NO_DEVICES, type VmDevices, vmDevicesOf } from '../devices/vm-devices';
import { netnsPathOf, templateNetwork } from '../devices/net/config';
import { type HostShare, planMounts, shareTag } from '../../bundle/mount-plan';
import { qemuBinary, qemuBuild } from '../vm/qemu-build';
import { containerShares } from '../devices/share/config';
import { MANIFEST, markTemplateUsed, pruneTemplates, removeTemplateDir, TEMPLATE_FORMAT, type TemplateManifest, templatesDir } from './template-cache';
import { bootVm } from '../vm/vm-boot';
import { assertPlainDir, assertPlainFile } from '../host/path-safety';
import { saveVmState, setIgnoreShared, VM_RAM_FILE, VM_STATE_FILE } from '../vm/vm-snapshot';

/** Next to the manifest: the digest of vm.state as last verified, with its identity. */
export const VERIFIED_RECORD = 'verified.json';
/**
 * Kernel and initramfs digests, which pick the template: outside any template
 * directory, since the key has to be known before one can be found.
 */
const INPUTS_RECORD = 'inputs.verified.json';
/** The disk the template boots with: never mounted, only there so the device exists. */
const PLACEHOLDER_DISK_BYTES = 64 * 1024 * 1024;

export type BootPolicy = 'cold' | 'snapshot';

export interface TemplateInputs {
  kernel: string;
  initramfs: string;
  qemuBinary: string;
  accel: Accel;
  shape: VmShape;
  devices: VmDevices;
}

/** A VM's template inputs, from its spec (vm/vm-spec.ts) and its devices (vm/vm-state.ts devicesOf). */
export function templateInputsOf(spec: VmSpec, devices: VmDevices): TemplateInputs {
  return { kernel: spec.kernel, initramfs: spec.initramfs, qemuBinary: spec.qemuBinary, accel: spec.accel, shape: spec.shape, devices };
}

export function templateKey(i: TemplateInputs, build: string): string {
  const [kernel, initramfs] = recordedSha256([i.kernel, i.initramfs], path.join(templatesDir(), INPUTS_RECORD));
  const h = createHash('sha256');
  for (const part of [String(TEMPLATE_FORMAT), kernel.sha256, initramfs.sha256, build, i.accel,
    `${guestRamKiB(i.shape, i.accel, build)}K`, `${i.shape.vcpus}cpu`, describeDevices(i.devices), MACHINE, KERNEL_CMDLINE, String(PROTOCOL_VERSION)]) h.update(`${part}\0`);
  return h.digest('hex').slice(0, 20);
}

/**
 * The template's vm.state if its manifest matches and the file has the recorded
 * size and digest; undefined if there is no template; throws if it is broken.
 */
export function verifyTemplate(dir: string, key: string, build: string): string | undefined {
  // Its files are opened by path (QEMU maps vm.ram): none may be a link to elsewhere.
  assertPlainDir(dir, 'VM template');
  if (!fs.existsSync(path.join(dir, MANIFEST))) return undefined;
  for (const f of [MANIFEST, VM_STATE_FILE, VM_RAM_FILE]) assertPlainFile(path.join(dir, f), 'VM template');
  let m: TemplateManifest;
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as TemplateManifest;
  } catch {
    return undefined;
  }
  const state = path.join(dir, VM_STATE_FILE);
  const ram = path.join(dir, VM_RAM_FILE);
  if (m.format !== TEMPLATE_FORMAT || m.key !== key || m.qemuBuild !== build) throw new Error('its manifest does not match');
  const brokenState = new Error('vm.state does not match its checksum');
  const brokenRam = new Error('vm.ram does not match its checksum');
  if (fs.statSync(state).size !== m.stateSize) throw brokenState;
  if (fs.statSync(ram).size !== m.ramSize) throw brokenRam;
  const started = Date.now();
  const [d, r] = recordedSha256([state, ram], path.join(dir, VERIFIED_RECORD));
  if (d.size !== m.stateSize || d.sha256 !== m.stateSha256) throw brokenState;
  if (r.size !== m.ramSize || r.sha256 !== m.ramSha256) throw brokenRam;
  const hashed = [d.hashed && 'vm.state', r.hashed && 'vm.ram'].filter(Boolean).join(' and ');
  log().debug(`VM template ${key} verified (${hashed ? `${hashed} hashed` : 'unchanged since recorded'}) in ${Date.now() - started} ms`);
  return state;
}

async function build(dir: string, key: string, qemuBuildStr: string, i: TemplateInputs): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const started = Date.now();
  try {
    fs.closeSync(fs.openSync(path.join(tmp, ROOT_DISK), 'w'));
    fs.truncateSync(path.join(tmp, ROOT_DISK), PLACEHOLDER_DISK_BYTES);
    const ram = path.join(tmp, VM_RAM_FILE);
    const shares: HostShare[] = [];
    for (let n = 0; n < i.devices.shares; n++) {
      const hostPath = path.join(tmp, `share-${n}`);
      fs.mkdirSync(hostPath);
      shares.push({ tag: shareTag(n), hostPath, readonly: false });
    }
    const vm = await bootVm(tmp, i.qemuBinary, { accel: i.accel, qemuBuild: qemuBuildStr, kernel: i.kernel, initramfs: i.initramfs, shape: i.shape, shares,
      network: i.devices.nic ? templateNetwork() : undefined, ramFile: { path: ram, share: true } }, { kind: 'cold' }, 30_000);
    try {
      await vm.qmp.execute('stop', {});
      // The RAM is in vm.ram already (QEMU wrote the guest's memory there): leave it out.
      await setIgnoreShared(vm.qmp, true);
      await saveVmState(vm.qmp, path.join(tmp, VM_STATE_FILE));
    } finally {
      vm.child.kill('SIGKILL');
      vm.agent.close();
      vm.qmp.close();
    }
    const state = path.join(tmp, VM_STATE_FILE);
    const manifest: TemplateManifest = {
      format: TEMPLATE_FORMAT, key, qemuBuild: qemuBuildStr, created: new Date().toISOString(),
      stateSha256: sha256File(state), stateSize: fs.statSync(state).size,
      ramSha256: sha256File(ram), ramSize: fs.statSync(ram).size,
      accel: i.accel, shape: i.shape, devices: i.devices,
    };
    fs.writeFileSync(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 2));
    for (const f of fs.readdirSync(tmp)) if (f !== MANIFEST && f !== VM_STATE_FILE && f !== VM_RAM_FILE) fs.rmSync(path.join(tmp, f), { recursive: true, force: true });
    // A sound template that another create published meanwhile stays where it is: VMs
    // may be starting from it, and each needs its vm.state and vm.ram to be one pair.
    let published = false;
    try {
      published = verifyTemplate(dir, key, qemuBuildStr) !== undefined;
    } catch { /* broken: replaced */ }
    if (!published) {
      removeTemplateDir(dir);
      try {
        fs.renameSync(tmp, dir);
      } catch { /* another runx published the same template first */ }
    }
    log().info(`built VM template ${key} in ${Date.now() - started} ms${published ? ' (another create published it first: that one is used)' : ''}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // A new template usually means its inputs changed: the old ones go now.
  try {
    const removed = pruneTemplates({ keep: [key, templateKey({ ...i, shape: DEFAULT_SHAPE, devices: NO_DEVICES }, qemuBuildStr)] });
    if (removed.length) log().info(`removed ${removed.length} stale VM template(s): ${removed.map((e) => e.name).join(', ')}`);
  } catch (err) {
    log().debug(`pruning VM templates: ${messageOf(err)}`);
  }
}

interface ReadyTemplate {
  key: string;
  dir: string;
  stateFile: string;
  /** false: a sound one was there already. */
  built: boolean;
}

/** The template for these inputs, built if there is none, it is broken, or `force`; throws why not. */
async function ensureTemplate(i: TemplateInputs, force: boolean): Promise<ReadyTemplate> {
  const qemuBuildStr = qemuBuild(i.qemuBinary);
  const key = templateKey(i, qemuBuildStr);
  const dir = path.join(templatesDir(), key);
  if (force) {
    // Away first, not replaced in place: a VM starting from it must not get the old
    // vm.ram with the new vm.state.
    removeTemplateDir(dir);
  } else {
    try {
      const stateFile = verifyTemplate(dir, key, qemuBuildStr);
      if (stateFile) return { key, dir, stateFile, built: false };
    } catch (err) {
      log().warn(`VM template ${key} is broken (${messageOf(err)}); rebuilding it`);
    }
  }
  await build(dir, key, qemuBuildStr, i);
  const stateFile = verifyTemplate(dir, key, qemuBuildStr);
  if (!stateFile) throw new Error(`VM template ${key} was removed as soon as it was built`);
  return { key, dir, stateFile, built: true };
}

/**
 * The saved state to start a VM from, building the template on first use; undefined
 * (with a warning) when there is none to be had, so the caller boots cold.
 */
export async function templateState(i: TemplateInputs): Promise<string | undefined> {
  try {
    const t = await ensureTemplate(i, false);
    markTemplateUsed(t.dir);
    return t.stateFile;
  } catch (err) {
    log().warn(`no VM template (${messageOf(err)}); booting cold`);
    return undefined;
  }
}

type Resources = Parameters<typeof shapeFromResources>[0];

/** What `create` starts a VM of these resources and devices from: the same QEMU, accelerator, guest, shape and devices. */
function inputsFor(resources: Resources, devices: VmDevices, accel: AccelMode): TemplateInputs {
  const assets = findGuestAssets();
  return {
    kernel: assets.kernel, initramfs: assets.initramfs, qemuBinary: qemuBinary(), accel: chooseAccel(accel).accel,
    shape: shapeFromResources(resources, os.cpus().length), devices,
  };
}

export interface TemplateBuild {
  key: string;
  dir: string;
  /** false: a sound template was there already (only checked). */
  built: boolean;
  accel: Accel;
  shape: VmShape;
  devices: VmDevices;
}

/**
 * The devices a bundle's containers get: a NIC when its config names a network
 * namespace (create gives none if that namespace turns out to have no interface),
 * and one share for all its bind mounts.
 */
function bundleDevices(dir: string): { resources: Resources; devices: VmDevices } {
  const { config, dir: bundleDir } = loadBundle(dir);
  return {
    resources: config.linux?.resources,
    devices: {
      ...vmDevicesOf({ network: undefined, shares: containerShares(planMounts(config.mounts ?? [], bundleDir, config.annotations).binds) }),
      nic: netnsPathOf(config.linux?.namespaces) !== undefined,
    },
  };
}

/**
 * `runx template build`: the template for the VM shape and devices of a bundle's
 * containers (without a bundle, the default shape with `devices`, none by default),
 * built unless a sound one is there; `force` rebuilds it anyway. Unlike create's, a
 * failure is an error.
 */
export async function buildTemplate(o: { bundle?: string; devices?: VmDevices; force?: boolean; accel: AccelMode }): Promise<TemplateBuild> {
  const { resources, devices } = o.bundle === undefined ? { resources: undefined, devices: o.devices ?? NO_DEVICES } : bundleDevices(o.bundle);
  if (devices.carry) throw new RunxError('ECONFIG', `the bundle's containers carry their bind mounts on a carry disk, and such a VM boots cold: there is no template to build (annotation io.runx.live-share keeps binds live shares instead)`);
  const i = inputsFor(resources, devices, o.accel);
  let t: ReadyTemplate;
  try {
    t = await ensureTemplate(i, o.force === true);
  } catch (err) {
    throw new RunxError('EBOOT', `cannot build the VM template (${i.shape.memoryMiB} MiB, ${i.shape.vcpus} vCPU, ${i.accel}, devices ${describeDevices(devices)}): ${messageOf(err)}`, { cause: err });
  }
  return { key: t.key, dir: t.dir, built: t.built, accel: i.accel, shape: i.shape, devices };
}

/**
 * The templates prune must keep: the current inputs' for the default shape without
 * devices. None where those inputs cannot be had (no guest kernel, no QEMU): no create
 * could use one then.
 */
export function keptTemplates(accel: AccelMode): string[] {
  try {
    const i = inputsFor(undefined, NO_DEVICES, accel);
    return [templateKey({ ...i, shape: DEFAULT_SHAPE }, qemuBuild(i.qemuBinary))];
  } catch (err) {
    log().debug(`no current default template to keep: ${messageOf(err)}`);
    return [];
  }
}
