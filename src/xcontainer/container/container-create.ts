// `create`: claim the id, start the keeper, validate the bundle, build the root disk,
// let the keeper go (it boots the VM and has the agent prepare the process), then
// write the pid file.
// Any failure removes everything this call made: a failed create leaves no state.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, RunxError } from '../../errors';
import { log } from '../../log';
import { loadBundle } from '../../bundle/load-bundle';
import { planMounts } from '../../bundle/mount-plan';
import { guestCreateFields } from '../../bundle/guest-plan';
import { buildRootfsImage } from '../../bundle/rootfs-image';
import type { SpecHooks } from '../../bundle/spec-types';
import { chooseAccel } from '../vm/accel';
import { OCI_VERSION, type ContainerRecord, toOciState } from '../state/container-record';
import { runHooks } from './hooks';
import { findGuestAssets } from '../vm/guest-assets';
import { type HostCgroup, makeHostCgroup, removeHostCgroup } from '../cgroup/host-cgroup';
import type { KeeperLaunch } from '../keeper/keeper-launch';
import { type GuestNetwork, netFields, netnsPathOf, setupNetwork, teardownNetwork } from '../devices/net/config';
import { type BootPolicy, templateState } from '../template/template';
import { abandon, keeperGo, keeperReadiness, spawnKeeper, writeLaunch } from '../keeper/keeper-spawn';
import { ROOT_DISK, shapeFromResources, vmDevicesOf } from '../vm/qemu-argv';
import { qemuBinary } from '../vm/qemu-build';
import type { RuntimeOptions } from './runtime-options';
import { ClaimGuard } from '../state/claim-guard';
import { PRIVATE_FILE_MODE, StateStore, validateId, writeFileAtomic } from '../state/state-store';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  runtime: RuntimeOptions;
  /** false for `run` in the foreground: the caller waits for the keeper. */
  detachKeeper: boolean;
  /** `run`: start the process too, if no hook has to run in between (see CreatedContainer.started). */
  start?: boolean;
}

export interface CreatedContainer {
  keeper: ChildProcess;
  pid: number;
  /** process.terminal: the container has a terminal. */
  terminal: boolean;
  /** The process was started with create (CreateOptions.start): only poststart hooks are left. */
  started: boolean;
  /** The config's hooks, for what `run` does after create. */
  hooks?: SpecHooks;
}

const DEFAULT_BOOT_TIMEOUT_MS = 30_000;

export async function createContainer(opts: CreateOptions): Promise<CreatedContainer> {
  validateId(opts.id);
  const store = new StateStore(opts.runtime.root);
  const dir = store.claim(opts.id);
  const claim = new ClaimGuard(opts.id, dir);
  let keeper: ChildProcess | undefined;
  let network: GuestNetwork | undefined;
  let cgroup: HostCgroup | undefined;
  try {
    // First, even before the bundle is read: Node's start-up in the keeper (~100 ms)
    // runs while we check the bundle, build the root disk and the rest of launch.json;
    // it waits for keeperGo before it reads them. With a console, the container's
    // stdio is the pty (a console socket is only for a terminal: terminalPlan): the
    // keeper must not hold our stdout/stderr, which the caller (go-runc) reads to EOF
    // before create counts as done.
    keeper = spawnKeeper(dir, opts.detachKeeper, opts.consoleSocket ? 'ignore' : 'inherit', false);
    // Watched from now: a keeper that cannot start at all says so (an 'error' event)
    // while we are still at the bundle.
    const ready = keeperReadiness(keeper);
    const bundle = loadBundle(opts.bundle);
    const config = bundle.config;
    const terminal = terminalPlan(config.process!.terminal === true, opts.consoleSocket, opts.detachKeeper);
    const plan = planMounts(config.mounts ?? [], bundle.dir);
    const boot = bootPolicyOf(config.annotations, opts.runtime.boot);
    const accel = chooseAccel(opts.runtime.accel);
    log().info(`accelerator: ${accel.accel} (${accel.reason})`);
    const assets = findGuestAssets();
    cgroup = makeHostCgroup(config.linux, opts.id, opts.runtime.systemdCgroup);
    const netnsPath = netnsPathOf(config.linux?.namespaces);
    network = netnsPath ? setupNetwork(netnsPath) : undefined;
    fs.writeFileSync(path.join(dir, 'config.json'), bundle.configText, { mode: PRIVATE_FILE_MODE });
    buildRootfsImage(bundle.rootfs, path.join(dir, ROOT_DISK));
    log().debug('root disk built');
    const record: ContainerRecord = {
      ociVersion: OCI_VERSION,
      id: opts.id,
      status: 'creating',
      bundle: bundle.dir,
      rootfs: bundle.rootfs,
      created: new Date().toISOString(),
      owner: '',
      annotations: config.annotations,
      keeperPid: 0,
      cgroup,
    };
    store.write(record);
    const launch: KeeperLaunch = {
      id: opts.id,
      root: path.resolve(opts.runtime.root),
      qemuBinary: qemuBinary(),
      qemu: {
        accel: accel.accel,
        kernel: assets.kernel,
        initramfs: assets.initramfs,
        shape: shapeFromResources(config.linux?.resources, os.cpus().length),
        shares: plan.shares,
        network,
      },
      agentCreate: [...guestCreateFields(config, plan), ...(network ? netFields(network) : [])],
      bootTimeoutMs: Number(process.env.RUNX_BOOT_TIMEOUT_MS) || DEFAULT_BOOT_TIMEOUT_MS,
      log: opts.runtime.log,
      cgroup,
      terminal,
      // Not with a terminal: `run` makes ours raw before the process may read it.
      startAfterCreate: opts.start === true && !terminal && !hasHooksBeforeStart(config.hooks),
    };
    if (boot === 'snapshot') {
      const stateFile = await templateState({ kernel: assets.kernel, initramfs: assets.initramfs, qemuBinary: launch.qemuBinary, accel: accel.accel,
        shape: launch.qemu.shape, devices: vmDevicesOf(launch.qemu) });
      if (stateFile) launch.template = { stateFile, diskBytes: fs.statSync(path.join(dir, ROOT_DISK)).size };
    }
    writeLaunch(dir, launch);
    keeperGo(keeper);
    const reply = await ready;
    if (!reply.ok) throw new RunxError('EBOOT', reply.error);
    claim.check();
    log().debug('keeper ready: container created');
    const state = toOciState({ ...record, keeperPid: keeper.pid! }, 'creating');
    await runHooks('prestart', config.hooks, state);
    await runHooks('createRuntime', config.hooks, state);
    await runHooks('createContainer', config.hooks, state);
    claim.check();
    if (opts.pidFile) writePidFile(opts.pidFile, keeper.pid!);
    return { keeper, pid: keeper.pid!, terminal: terminal !== undefined, started: launch.startAfterCreate === true, hooks: config.hooks };
  } catch (err) {
    // A directory that is no longer ours is not ours to remove.
    const reported = claim.explain(err);
    await abandon(claim.held() ? store : undefined, opts.id, keeper);
    if (network) teardownNetwork(network);
    if (cgroup) await removeHostCgroup(cgroup);
    throw reported;
  }
}

/** Whether a hook runs between create and start (those `run` cannot start at create for). */
export function hasHooksBeforeStart(hooks: SpecHooks | undefined): boolean {
  const before: Array<keyof SpecHooks> = ['prestart', 'createRuntime', 'createContainer', 'startContainer'];
  return before.some((k) => (hooks?.[k]?.length ?? 0) > 0);
}

/** The container's own choice, annotation io.runx.boot, else --boot (or RUNX_BOOT): a shim passes no flags of ours. */
export const BOOT_ANNOTATION = 'io.runx.boot';

export function bootPolicyOf(annotations: Record<string, string> | undefined, fallback: BootPolicy): BootPolicy {
  const v = annotations?.[BOOT_ANNOTATION];
  if (v === undefined) return fallback;
  if (v !== 'snapshot' && v !== 'cold') throw new ConfigError(`annotations.${BOOT_ANNOTATION}`, `config.json: annotations.${BOOT_ANNOTATION} must be "snapshot" or "cold", not ${JSON.stringify(v)}`);
  return v;
}

/**
 * runc's rules for a terminal: a detached container with a terminal needs a console
 * socket to hand it to, and a console socket is only for a detached container with
 * a terminal (runc's error wording).
 */
export function terminalPlan(terminal: boolean, consoleSocket: string | undefined, detach: boolean): KeeperLaunch['terminal'] {
  if (consoleSocket && !detach) throw new RunxError('EUSAGE', 'cannot use console socket if runx will not detach');
  if (consoleSocket && !terminal) throw new RunxError('EUSAGE', 'cannot use console socket if runx will not detach or allocate tty');
  if (terminal && detach && !consoleSocket) throw new RunxError('EUSAGE', 'cannot allocate tty if runx will detach without setting console socket');
  if (!terminal) return undefined;
  return consoleSocket ? { consoleSocket: path.resolve(consoleSocket) } : {};
}

/** The pid file holds just the number, no newline (containerd's shim parses it so). */
export function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  writeFileAtomic(abs, String(pid));
}
