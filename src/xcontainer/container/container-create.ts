// `create`: a bundle's checks (config, terminal rules, mounts, boot policy) and its
// hooks; the VM itself comes into being by provision(), which spawns the keeper
// before the bundle is read (in the container's network namespace, new when the
// config asks for one: devices/net/keeper-netns.ts) and leaves nothing when anything
// fails. prestart and createRuntime hooks run before the NIC is set up, so that what
// they put in the namespace becomes the VM's NIC.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, RunxError } from '../../errors';
import { log } from '../../log';
import { loadBundle } from '../../bundle/load-bundle';
import { planMounts } from '../../bundle/mount-plan';
import { guestCreateFields } from '../../bundle/guest-plan';
import type { SpecHooks } from '../../bundle/spec-types';
import { chooseAccel } from '../vm/accel';
import { toOciState } from '../state/container-record';
import { runHooks } from './hooks';
import { findGuestAssets } from '../vm/guest-assets';
import type { KeeperLaunch } from '../keeper/keeper-launch';
import { netnsPathOf } from '../devices/net/config';
import { keeperNetnsOf } from '../devices/net/keeper-netns';
import { keeperNamespacesOf } from '../keeper/keeper-namespaces';
import { loopbackNameserver } from '../devices/net/dns-relay';
import type { BootPolicy } from '../template/template';
import { containerShares } from '../devices/share/config';
import { shapeFromResources } from '../vm/qemu-argv';
import { qemuBinary } from '../vm/qemu-build';
import type { RuntimeOptions } from './runtime-options';
import { type VmPlan, provision } from './provision';

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

export async function createContainer(opts: CreateOptions): Promise<CreatedContainer> {
  let hooks: SpecHooks | undefined;
  let terminal: KeeperLaunch['terminal'];
  const keeperNetns = keeperNetnsOf(opts.bundle);
  const done = await provision({
    keeperNetns,
    keeperNamespaces: keeperNamespacesOf(opts.bundle),
    id: opts.id,
    runtime: opts.runtime,
    // With a console, the container's stdio is the pty (a console socket is only for
    // a terminal: terminalPlan): the keeper must not hold our stdout/stderr, which the
    // caller (go-runc) reads to EOF before create counts as done.
    keeper: { detach: opts.detachKeeper, stdio: opts.consoleSocket ? 'ignore' : 'inherit' },
    pidFile: opts.pidFile,
    // Read while the keeper, spawned first, starts up.
    plan: () => {
      const plan = bundlePlan(opts);
      hooks = plan.config.hooks;
      terminal = plan.terminal;
      return plan;
    },
    // Once the namespaces exist and before the VM boots, as runc runs them before the
    // process's root is set up: what they put in the network namespace (Docker's
    // libnetwork-setkey: a veth renamed eth0, its addresses and routes) is the NIC.
    beforeNic: async (_keeper, record) => {
      const state = toOciState(record, 'creating');
      await runHooks('prestart', hooks, state);
      await runHooks('createRuntime', hooks, state);
    },
    afterReady: async (_keeper, record) => {
      await runHooks('createContainer', hooks, toOciState(record, 'creating'));
    },
  });
  return { keeper: done.keeper, pid: done.keeper.pid!, terminal: terminal !== undefined, started: done.launch.startAfterCreate === true, hooks };
}

/** What a bundle's VM is made of: create's own checks (config, terminal, mounts, boot policy). */
function bundlePlan(opts: CreateOptions): VmPlan {
  const bundle = loadBundle(opts.bundle);
  const config = bundle.config;
  const terminal = terminalPlan(config.process!.terminal === true, opts.consoleSocket, opts.detachKeeper);
  const plan = planMounts(config.mounts ?? [], bundle.dir, config.annotations);
  const boot = bootPolicyOf(config.annotations, opts.runtime.boot);
  const accel = chooseAccel(opts.runtime.accel);
  log().info(`accelerator: ${accel.accel} (${accel.reason})`);
  const assets = findGuestAssets();
  const netnsPath = netnsPathOf(config.linux?.namespaces);
  const newNetns = config.linux?.namespaces?.some((ns) => ns.type === 'network' && !ns.path) === true;
  return {
    origin: { kind: 'bundle', rootfs: bundle.rootfs, boot },
    configText: bundle.configText,
    config,
    bundle: bundle.dir,
    rootfs: bundle.rootfs,
    annotations: config.annotations,
    nic: netnsPath ? { kind: 'netns', netnsPath } : newNetns ? { kind: 'keeper-netns' } : { kind: 'none' },
    // Only the keeper, in the container's namespace, reaches a loopback nameserver there.
    dns: () => loopbackNameserver(config.mounts),
    qemuBinary: qemuBinary(),
    accel: accel.accel,
    kernel: { path: assets.kernel },
    initramfs: { path: assets.initramfs },
    shape: shapeFromResources(config.linux?.resources, os.cpus().length),
    shares: containerShares(plan.binds),
    agentCreate: guestCreateFields(config, plan),
    terminal,
    // Not with a terminal: `run` makes ours raw before the process may read it.
    startAfterCreate: opts.start === true && !terminal && !hasHooksBeforeStart(config.hooks),
  };
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
