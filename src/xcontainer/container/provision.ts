// The one way a container's VM comes into being, whatever it comes from: a bundle
// (cold boot, or from a template), a checkpoint image, or an incoming migration.
// It owns, in this order: claim of the id, the keeper (spawned first, held until
// launch.json is written), the host cgroup, the guest files, the root disk (built,
// copied sparse, or empty), the record, the hooks, the NIC, config.json, the carry
// disk (after the hooks: they may write the bind sources), launch.json, the
// keeper's go and readiness, and the pid file; and one rollback that undoes
// whatever of it was done. create, restore and the migration destination keep only
// their own checks and say what the VM comes from (a VmPlan).
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../../errors';
import { log } from '../../log';
import type { SpecConfig } from '../../bundle/spec-types';
import type { HostShare } from '../../bundle/mount-plan';
import type { FieldValue } from '../agent/agent-messages';
import type { Accel } from '../vm/accel';
import type { HostCgroup } from '../cgroup/host-cgroup';
import { type GuestIdentity, type GuestNetwork, netFields, netnsPathOf } from '../devices/net/config';
import { withNetns } from '../devices/net/netns-config';
import { type KeeperNetns, keeperNetnsPath } from '../devices/net/keeper-netns';
import { type KeeperNamespaces, keeperCgroupnsFor } from '../keeper/keeper-namespaces';
import type { KeeperLaunch } from '../keeper/keeper-launch';
import { writeLaunchFile } from '../keeper/keeper-spawn';
import { OCI_VERSION, type ContainerRecord } from '../state/container-record';
import { ClaimGuard } from '../state/claim-guard';
import { PRIVATE_FILE_MODE, StateStore, validateId, writeFileAtomic } from '../state/state-store';
import { templateInputsOf, templateState } from '../template/template';
import { type VmSpec, deriveVmSpec, writeVmSpec } from '../vm/vm-spec';
import type { IncomingEndpoints } from '../vm/vm-migration';
import { ROOT_DISK, type VmShape } from '../vm/qemu-argv';
import { vmDevicesOf } from '../devices/vm-devices';
import { CARRY_DISK, buildCarryDisk, emptyCarryDisk, hasCarryDisk } from '../devices/carry/config';
import type { RuntimeOptions } from './runtime-options';
import { type KeeperStdio, type ProvisionHost, realProvisionHost } from './provision-host';

/** Where the VM comes from; it decides the root disk and how QEMU starts. */
export type VmOrigin =
  /** A bundle: its rootfs is built into an ext4 image; a snapshot boot starts from a template when one fits. */
  | { kind: 'bundle'; rootfs: string; boot: 'cold' | 'snapshot' }
  /** A checkpoint image: its disk is copied sparse, its saved state loaded. */
  | { kind: 'image'; disk: string; stateFile: string; status: 'created' | 'running' }
  /** A migration's destination: an empty disk of the source's size, which the mirror fills. */
  | { kind: 'incoming'; diskBytes: number; carryBytes?: number; endpoints(network: GuestNetwork | undefined): Promise<IncomingEndpoints>; made?: readonly string[] };

/** The container's NIC: none, the one its namespace's interface gives, or a migrated guest's. */
export type NicPlan =
  | { kind: 'none' }
  /** mac: the guest keeps the MAC it was saved with; required: no interface is an error. */
  | { kind: 'netns'; netnsPath: string; mac?: string; required?: boolean }
  /** The namespace the keeper was started in (ProvisionRequest.keeperNetns without a path): its interface, if any. */
  | { kind: 'keeper-netns' }
  | { kind: 'migrated'; netnsPath: string; guest: GuestIdentity };

/** A guest kernel or initramfs: used where it is, or kept in the state dir (copied or written) so it outlives its source. */
export type GuestFile = { path: string } | { copyFrom: string } | { data: Buffer };

/** What a source hands provisioning: everything the VM and its record are made of. */
export interface VmPlan {
  origin: VmOrigin;
  configText: string;
  config: SpecConfig;
  /** The record's bundle and rootfs (where the container's files came from). */
  bundle: string;
  rootfs: string;
  annotations?: Record<string, string>;
  nic: NicPlan;
  qemuBinary: string;
  accel: Accel;
  kernel: GuestFile;
  initramfs: GuestFile;
  shape: VmShape;
  shares: HostShare[];
  /** The agent's create request, less the NIC's fields (added here once the NIC is known). */
  agentCreate: Array<[string, FieldValue]>;
  /** create's own launch fields. */
  terminal?: KeeperLaunch['terminal'];
  startAfterCreate?: boolean;
  /**
   * A loopback nameserver the container's resolv.conf names, relayed by the keeper
   * when the VM has a NIC (devices/net/dns-relay.ts). Asked after beforeNic: Docker
   * writes 127.0.0.11 into the file during its prestart hook.
   */
  dns?(): string | undefined;
}

export interface ProvisionRequest {
  id: string;
  runtime: RuntimeOptions;
  /**
   * The source's plan. A function, called once the keeper is spawned: create reads
   * and checks its bundle while the keeper's Node starts. A throw rolls back.
   */
  plan(): VmPlan | Promise<VmPlan>;
  keeper: { detach: boolean; stdio: KeeperStdio };
  /** The keeper starts in the container's network namespace: a new one, or the one at path. */
  keeperNetns?: KeeperNetns;
  /** The keeper starts in the container's ipc and uts namespaces too (keeper/keeper-namespaces.ts). */
  keeperNamespaces?: KeeperNamespaces;
  /** Runs once the record is written and before the NIC is set up (create's prestart and createRuntime hooks). A throw rolls back. */
  beforeNic?(keeper: ChildProcess, record: ContainerRecord, plan: VmPlan): Promise<void>;
  /** Prefix of the error when the VM does not come up ("restore of c1 failed: "). */
  bootErrorPrefix?: string;
  /** Called as soon as the keeper exists (the destination relays its stdio). */
  onKeeper?(keeper: ChildProcess): void;
  /** Runs once the keeper is ready, before the pid file (create's hooks). A throw rolls back. */
  afterReady?(keeper: ChildProcess, record: ContainerRecord, plan: VmPlan): Promise<void>;
  pidFile?: string;
}

export interface Provisioned {
  keeper: ChildProcess;
  plan: VmPlan;
  record: ContainerRecord;
  launch: KeeperLaunch;
  network?: GuestNetwork;
  cgroup?: HostCgroup;
  /** Undoes it all (ends the keeper and its VM, NIC, cgroup, state dir); for a destination's Abort. */
  rollback(): Promise<void>;
}

const DEFAULT_BOOT_TIMEOUT_MS = 30_000;

/** How long any VM may take to come up: RUNX_BOOT_TIMEOUT_MS, else 30 s. */
export function bootTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.RUNX_BOOT_TIMEOUT_MS) || DEFAULT_BOOT_TIMEOUT_MS;
}

/** Brings the container's VM into being; on any failure, leaves nothing of it. */
export async function provision(req: ProvisionRequest, host: ProvisionHost = realProvisionHost): Promise<Provisioned> {
  validateId(req.id);
  const store = new StateStore(req.runtime.root);
  const dir = store.claim(req.id);
  // A delete --force meanwhile takes the directory away: then this fails saying so.
  const claim = new ClaimGuard(req.id, dir);
  const made: { keeper?: ChildProcess; network?: GuestNetwork; cgroup?: HostCgroup } = {};
  const rollback = async () => {
    // The VM's QEMU, if the keeper got as far as starting it: it may still be leaving
    // the cgroup when the keeper is gone (it dies by its parent-death signal).
    let qemuPid: number | undefined;
    try {
      qemuPid = store.read(req.id).qemuPid;
    } catch { /* no record yet */ }
    if (made.keeper) await host.endKeeper(made.keeper);
    if (made.network) host.teardownNetwork(made.network);
    if (made.cgroup) await host.removeCgroup(made.cgroup, [made.keeper?.pid ?? 0, qemuPid ?? 0]);
    // A directory that is no longer ours is not ours to remove.
    if (claim.held()) store.remove(req.id);
  };
  try {
    const keeper = host.spawnKeeper(dir, req.keeper.detach, req.keeper.stdio, req.keeperNetns, req.keeperNamespaces);
    made.keeper = keeper;
    // Watched from now: a keeper that cannot start at all says so while the plan is made.
    const ready = host.readiness(keeper);
    req.onKeeper?.(keeper);
    const plan = await req.plan();
    made.cgroup = host.makeCgroup(plan.config.linux, req.id, req.runtime.systemdCgroup);
    const kernel = placeGuestFile(dir, 'bzImage', plan.kernel);
    const initramfs = placeGuestFile(dir, 'initramfs.cpio', plan.initramfs);
    makeDisk(plan.origin, path.join(dir, ROOT_DISK), host);
    // The VM's immutable half, derived once; its mutable half is the keeper's to write.
    const spec = deriveVmSpec({ qemuBinary: plan.qemuBinary, accel: plan.accel, kernel, initramfs, shape: plan.shape }, host.qemuBuild(plan.qemuBinary));
    writeVmSpec(dir, spec);
    const record: ContainerRecord = {
      ociVersion: OCI_VERSION, id: req.id, status: 'creating', bundle: plan.bundle, rootfs: plan.rootfs,
      created: new Date().toISOString(), owner: '', annotations: plan.annotations, keeperPid: 0, cgroup: made.cgroup,
    };
    store.write(record);
    await req.beforeNic?.(keeper, { ...record, keeperPid: keeper.pid! }, plan);
    made.network = setupNic(plan.nic, host, keeper.pid!);
    // After the hooks: Docker's prestart hook writes the resolv.conf and hosts the
    // container then gets a copy of.
    if (hasCarryDisk(plan.shares)) makeCarryDisk(plan, dir);
    const network = made.network;
    // The config names the namespace the NIC is in (a migration's may be another here).
    const configText = network && !network.own && netnsPathOf(plan.config.linux?.namespaces) !== network.netnsPath
      ? withNetns(plan.configText, network.netnsPath) : plan.configText;
    fs.writeFileSync(path.join(dir, 'config.json'), configText, { mode: PRIVATE_FILE_MODE });
    const dns = network ? plan.dns?.() : undefined;
    const launch: KeeperLaunch = {
      id: req.id,
      root: path.resolve(req.runtime.root),
      qemuBinary: spec.qemuBinary,
      qemu: { accel: spec.accel, qemuBuild: spec.qemuBuild, kernel: spec.kernel, initramfs: spec.initramfs, shape: spec.shape, shares: plan.shares, network },
      agentCreate: plan.origin.kind === 'bundle'
        ? [...plan.agentCreate, ...(network ? netFields(network) : []), ...(dns ? [['net.dns', dns] as [string, FieldValue]] : [])]
        : plan.agentCreate,
      ...(dns ? { dnsRelay: dns } : {}),
      bootTimeoutMs: bootTimeoutMs(),
      log: req.runtime.log,
      cgroup: made.cgroup,
      ...cgroupnsLaunch(plan.config.linux?.namespaces, plan.origin.kind === 'incoming' ? 'new' : 'host'),
      ...(plan.terminal ? { terminal: plan.terminal } : {}),
      ...(plan.startAfterCreate ? { startAfterCreate: true } : {}),
      ...await originLaunch(plan, spec, dir, network),
    };
    writeLaunchFile(dir, launch);
    host.go(keeper);
    const reply = await ready;
    if (!reply.ok) throw new RunxError('EBOOT', `${req.bootErrorPrefix ?? ''}${reply.error}`);
    claim.check();
    log().debug(`keeper ready: ${req.id} provisioned (${plan.origin.kind})`);
    await req.afterReady?.(keeper, { ...record, keeperPid: keeper.pid! }, plan);
    claim.check();
    if (req.pidFile) writePidFile(req.pidFile, keeper.pid!);
    return { keeper, plan, record, launch, network, cgroup: made.cgroup, rollback };
  } catch (err) {
    const reported = claim.explain(err);
    await rollback();
    throw reported;
  }
}

function setupNic(nic: NicPlan, host: ProvisionHost, keeperPid: number): GuestNetwork | undefined {
  if (nic.kind === 'none') return undefined;
  if (nic.kind === 'keeper-netns') {
    const found = host.setupNetwork(keeperNetnsPath(keeperPid));
    // It ends with the keeper and QEMU; nothing in it is torn down (config.ts).
    return found ? { ...found, own: true } : undefined;
  }
  if (nic.kind === 'migrated') return host.setupMigratedNetwork(nic.netnsPath, nic.guest);
  const found = host.setupNetwork(nic.netnsPath);
  if (!found && nic.required) throw new RunxError('ECONFIG', `network namespace ${nic.netnsPath} has no interface for the restored VM's NIC`);
  // A restored guest keeps the MAC it was saved with (virtio-net's state carries it).
  return found && nic.mac ? { ...found, mac: nic.mac } : found;
}

function placeGuestFile(dir: string, name: string, f: GuestFile): string {
  if ('path' in f) return f.path;
  const to = path.join(dir, name);
  if ('copyFrom' in f) fs.copyFileSync(f.copyFrom, to);
  else fs.writeFileSync(to, f.data);
  return to;
}

function makeDisk(origin: VmOrigin, disk: string, host: ProvisionHost): void {
  if (origin.kind === 'bundle') {
    host.buildRootfs(origin.rootfs, disk);
    log().debug('root disk built');
  } else if (origin.kind === 'image') {
    // restore copies (and verifies) the image's disk into place itself: image-reader.ts.
    if (path.resolve(origin.disk) !== path.resolve(disk)) host.copySparse(origin.disk, disk);
  } else {
    fs.closeSync(fs.openSync(disk, 'w', PRIVATE_FILE_MODE));
    fs.truncateSync(disk, origin.diskBytes);
  }
}

/** The carry disk (devices/carry): built from the binds, the image's, or an empty one the mirror fills. */
function makeCarryDisk(plan: VmPlan, dir: string): void {
  const o = plan.origin;
  if (o.kind === 'bundle') {
    buildCarryDisk(dir, plan.shares.flatMap((s) => s.binds ?? []), plan.annotations);
    log().debug('carry disk built');
  } else if (o.kind === 'incoming') {
    if (!o.carryBytes) throw new RunxError('EPROTO', 'the source sent no carry disk size for a container with carried mounts');
    emptyCarryDisk(dir, o.carryBytes);
  } else if (!fs.existsSync(path.join(dir, CARRY_DISK))) {
    // restore places the image's copy (image-reader.ts) before provisioning.
    throw new RunxError('ECONFIG', 'the checkpoint image has no carry disk for the container\'s carried mounts');
  }
}

/** launch.json's fields for how QEMU starts: from a template, a saved state, or waiting for a migration. */
async function originLaunch(plan: VmPlan, spec: VmSpec, dir: string, network: GuestNetwork | undefined): Promise<Partial<KeeperLaunch>> {
  const o = plan.origin;
  if (o.kind === 'image') return { restore: { stateFile: o.stateFile, status: o.status } };
  if (o.kind === 'incoming') return { incoming: await o.endpoints(network), ...(o.made?.length ? { incomingMade: [...o.made] } : {}) };
  const devices = vmDevicesOf({ network, shares: plan.shares });
  // No template has a carry disk yet: such a VM boots cold (docs/mounts.md).
  if (o.boot !== 'snapshot' || devices.carry) return {};
  const stateFile = await templateState(templateInputsOf(spec, devices));
  return stateFile ? { template: { stateFile, diskBytes: fs.statSync(path.join(dir, ROOT_DISK)).size } } : {};
}

/** The pid file holds just the number, no newline (containerd's shim parses it so). */
export function writePidFile(file: string, pid: number): void {
  writeFileAtomic(path.resolve(file), String(pid));
}

/**
 * The cgroup namespace the keeper enters once in its cgroup. A path that does not
 * exist here (a checkpoint or a migration from another host) gets a new one, as the
 * network namespace does there.
 */
function cgroupnsLaunch(namespaces: unknown, missing: 'host' | 'new'): Pick<KeeperLaunch, 'cgroupns'> {
  const ns = keeperCgroupnsFor(namespaces, missing);
  return ns ? { cgroupns: ns } : {};
}
