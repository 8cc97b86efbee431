// The host namespaces the keeper lives in besides the network one (devices/net/
// keeper-netns.ts), so that the pid runx reports (state.pid) has the container's
// namespaces where that is safe for a process that runs a VM: what a caller does to
// /proc/<pid>/ns/X (nsenter -t, a CNI or a hook joining the container's namespaces,
// a pod's next container) then lands in the container's, never in the host's.
//
// - ipc, uts: the keeper and QEMU use neither SysV IPC nor POSIX message queues, and
//   the hostname only in log lines; a new one is made (unshare), or the one at the
//   path joined (nsenter), when the keeper starts.
// - cgroup: entered by the keeper itself once it has joined the container's cgroup
//   (host-cgroup.ts), as runc's init makes its cgroup namespace after joining: on a
//   cgroup v2 host a process in a cgroup namespace cannot move itself to a cgroup
//   outside that namespace's root, and a new namespace is then rooted at the
//   container's cgroup.
// - mount, pid, user: never (test/oci-conformance/README.md says why).
import fs from 'node:fs';
import { RunxError, messageOf } from '../../errors';
import { native } from '../host/native';

/** A namespace the keeper makes (no path) or joins (path). */
export interface KeeperNs { path?: string }

export interface KeeperNamespaces {
  ipc?: KeeperNs;
  uts?: KeeperNs;
}

const AT_SPAWN = ['ipc', 'uts'] as const;

function entry(namespaces: unknown, type: string, missing: 'host' | 'new'): KeeperNs | undefined {
  if (!Array.isArray(namespaces)) return undefined;
  const ns = (namespaces as Array<{ type?: unknown; path?: unknown } | null>).find((n) => n?.type === type);
  if (!ns) return undefined;
  if (!ns.path) return {};
  if (typeof ns.path === 'string' && fs.existsSync(ns.path)) return { path: ns.path };
  return missing === 'new' ? {} : undefined;
}

/**
 * The ipc and uts namespaces a config's linux.namespaces asks for. As with the network
 * one (keeperNetnsFor), a path that does not exist here counts as `missing`: create
 * validates the config after the keeper starts, and that error is the one reported.
 */
export function keeperNamespacesFor(namespaces: unknown, missing: 'host' | 'new' = 'host'): KeeperNamespaces {
  const out: KeeperNamespaces = {};
  for (const t of AT_SPAWN) {
    const ns = entry(namespaces, t, missing);
    if (ns) out[t] = ns;
  }
  return out;
}

/** The same from a bundle's config.json, read before it is validated; none when it cannot be read. */
export function keeperNamespacesOf(bundleDir: string): KeeperNamespaces {
  try {
    const config = JSON.parse(fs.readFileSync(`${bundleDir}/config.json`, 'utf8')) as { linux?: { namespaces?: unknown } };
    return keeperNamespacesFor(config.linux?.namespaces);
  } catch {
    return {};
  }
}

/** The cgroup namespace the keeper enters after joining its cgroup (KeeperLaunch.cgroupns). */
export function keeperCgroupnsFor(namespaces: unknown, missing: 'host' | 'new' = 'host'): KeeperNs | undefined {
  return entry(namespaces, 'cgroup', missing);
}

/**
 * The command prefix that starts the keeper in them: nsenter for the ones given by
 * path, then unshare for new ones. Both exec what follows (unshare without --fork), so
 * the keeper's pid is the one spawned.
 */
export function keeperNamespacesPrefix(ns: KeeperNamespaces): string[] {
  const join = AT_SPAWN.filter((t) => ns[t]?.path).map((t) => `--${t}=${ns[t]!.path}`);
  const make = AT_SPAWN.filter((t) => ns[t] && !ns[t]!.path).map((t) => `--${t}`);
  return [...(join.length ? ['nsenter', ...join, '--'] : []), ...(make.length ? ['unshare', ...make, '--'] : [])];
}

/** In the keeper, once in its cgroup: its main thread enters the cgroup namespace `ns`. */
export function enterKeeperCgroupns(ns: KeeperNs): void {
  let fd = -1;
  try {
    if (ns.path) fd = fs.openSync(ns.path, 'r');
    native().enterCgroupns(fd);
  } catch (err) {
    throw new RunxError('EHOST', `cannot enter ${ns.path ? `the cgroup namespace at ${ns.path}` : 'a new cgroup namespace'}: ${messageOf(err)}`);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
