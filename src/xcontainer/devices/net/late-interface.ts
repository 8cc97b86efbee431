// An interface that reaches a runx-made network namespace after `create` (CNI or `ip
// link set ... netns <pid>` between create and start, not a prestart/createRuntime
// hook) cannot become the VM's NIC: the VM booted without one and microvm has no NIC
// hotplug. `start` refuses then, in one line, rather than start a container that
// silently lacks the network it was given.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { RunxError } from '../../../errors';
import type { KeeperLaunch } from '../../keeper/keeper-launch';
import { TAP_NAME } from './config';
import { keeperNetnsPath } from './keeper-netns';

interface LinkJson { ifname: string; link_type?: string; operstate?: string }

/**
 * For `start`: throws when the container's VM has no NIC but the network namespace
 * its keeper made has gained an interface the VM would have taken over at create.
 */
export function refuseLateInterface(keeperPid: number, namespaces: ReadonlyArray<{ type: string; path?: string }> | undefined, launchFile: string): void {
  if (!namespaces?.some((ns) => ns.type === 'network' && !ns.path)) return;
  try {
    if ((JSON.parse(fs.readFileSync(launchFile, 'utf8')) as KeeperLaunch).qemu.network) return;
    // A keeper in our own namespace (a config without a network entry) made none.
    const own = fs.statSync(keeperNetnsPath(keeperPid));
    const ours = fs.statSync('/proc/self/ns/net');
    if (own.ino === ours.ino && own.dev === ours.dev) return;
  } catch {
    return;
  }
  const r = spawnSync('nsenter', [`--net=${keeperNetnsPath(keeperPid)}`, '--', 'ip', '-j', 'link', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) return;
  let links: LinkJson[];
  try {
    links = JSON.parse(r.stdout) as LinkJson[];
  } catch {
    return;
  }
  // The same choice as the NIC's at create (config.ts): an Ethernet link that is up.
  const late = links.find((l) => l.link_type === 'ether' && l.ifname !== TAP_NAME && l.operstate !== 'DOWN');
  if (late) {
    throw new RunxError('ECONFIG', `interface ${late.ifname} was added to the container's network namespace after create; the VM cannot take it over (only what prestart or createRuntime hooks put there becomes its NIC)`);
  }
}

/** How often a running keeper looks for interfaces added to its namespace. */
const WATCH_INTERVAL_MS = 2000;

/** The interfaces of the reading thread's network namespace (/proc/thread-self/net/dev). */
export function netnsInterfaces(devFile = '/proc/thread-self/net/dev'): string[] {
  // "  eth0: 123 ..." after two header lines; the kernel's own list, no child process.
  return fs.readFileSync(devFile, 'utf8').split('\n').slice(2)
    .map((l) => /^\s*([^:\s]+):/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
}

/**
 * In the keeper, once the container runs: `docker network connect` (or a CNI ADD, or
 * `ip link set ... netns`) puts another interface into the container's namespace, which
 * the VM cannot take (microvm has no NIC hotplug). The container goes on as it is,
 * untouched; each such interface is reported once, through `report` (the keeper's log:
 * never the container's own output). `paused()` is true while our main thread is in
 * another namespace (a migration), where the list would be that one's. The read is
 * synchronous on purpose: /proc/thread-self is then the main thread.
 */
export function watchLateInterfaces(report: (ifname: string) => void, paused: () => boolean, intervalMs = WATCH_INTERVAL_MS, read: () => string[] = netnsInterfaces): () => void {
  let known: Set<string> | undefined;
  const look = () => {
    if (paused()) return;
    let now: string[];
    try {
      now = read();
    } catch {
      return;
    }
    if (!known) {
      known = new Set(now);
      return;
    }
    for (const name of now) {
      if (known.has(name)) continue;
      known.add(name);
      if (name !== 'lo' && name !== TAP_NAME) report(name);
    }
  };
  look();
  const timer = setInterval(look, intervalMs);
  // Never what keeps a keeper alive.
  timer.unref();
  return () => clearInterval(timer);
}

/** The one line a late interface gets. */
export function lateInterfaceMessage(ifname: string): string {
  return `interface ${ifname} was added to the container's network namespace while it runs (docker network connect?); the VM cannot take it (no NIC hotplug in microvm), so the container does not get that network: it keeps running as it was`;
}
