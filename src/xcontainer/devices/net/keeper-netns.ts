// The keeper in the container's network namespace: the one runx makes for a config
// that asks for a new one without a path, as runc makes it (`unshare --net`), or the
// one the config names by path (`nsenter --net`). So the pid runx reports (state.pid,
// --pid-file) is in the container's namespace: what
// engines do to /proc/<pid>/ns/net (Docker's libnetwork-setkey prestart hook, CNI run
// against the pid, CRI's later containers of a pod) lands there, never in the host's.
// QEMU, the keeper's child, is in it too, and so is the tap when there is an interface
// to take over. A namespace runx made has no file: it lives exactly as long as the
// keeper and QEMU, so it ends with the container.
//
// The keeper keeps the namespace it was started from open at HOST_NETNS_FD, because
// its own sockets to another host (a migration's streams, a stand-in's link) must be
// made there; see enterHostNetns.
import fs from 'node:fs';
import { native } from '../../host/native';

/** The keeper's fd for the network namespace of the runx that started it. */
export const HOST_NETNS_FD = 4;

/** Where the keeper starts: a new namespace (no path), or the one at path. */
export interface KeeperNetns { path?: string }

/**
 * The network namespace the bundle's config asks for. Read before the bundle is
 * validated (the keeper starts first, see container-create.ts), so a config that
 * cannot be read, or a path that does not exist, counts as none: the keeper stays in
 * ours, and the error comes from loadBundle or the network setup, in one line.
 */
export function keeperNetnsOf(bundleDir: string): KeeperNetns | undefined {
  try {
    const config = JSON.parse(fs.readFileSync(`${bundleDir}/config.json`, 'utf8')) as { linux?: { namespaces?: unknown } };
    return keeperNetnsFor(config.linux?.namespaces);
  } catch {
    return undefined;
  }
}

/**
 * The same choice from a config's linux.namespaces, for restore and a migration's
 * destination, whose keepers must be where create's was: a new namespace for an entry
 * without a path, the named one when it exists here, none (ours) when the config
 * has no network entry. `missing` is what a path that does not exist here gets.
 */
export function keeperNetnsFor(namespaces: unknown, missing: 'host' | 'new' = 'host'): KeeperNetns | undefined {
  if (!Array.isArray(namespaces)) return undefined;
  const net = (namespaces as Array<{ type?: unknown; path?: unknown } | null>).find((ns) => ns?.type === 'network');
  if (!net) return undefined;
  if (!net.path) return {};
  if (typeof net.path === 'string' && fs.existsSync(net.path)) return { path: net.path };
  return missing === 'new' ? {} : undefined;
}

/** The container's network namespace, as seen through its keeper. */
export function keeperNetnsPath(keeperPid: number): string {
  return `/proc/${keeperPid}/ns/net`;
}

/** How to start a keeper in its network namespace: a prefix and the fd to pass it as HOST_NETNS_FD. */
export function keeperNetnsSpawn(ns: KeeperNetns): { prefix: string[]; hostFd: number } {
  // unshare(1) without --fork, and nsenter(1) for a network namespace, exec the
  // keeper: its pid is theirs.
  const prefix = ns.path ? ['nsenter', `--net=${ns.path}`, '--'] : ['unshare', '--net', '--'];
  return { prefix, hostFd: fs.openSync('/proc/self/ns/net', 'r') };
}

let ownFd: number | undefined;

/**
 * In the keeper: its main thread (sockets, children) moves to the namespace it was
 * started from, to reach another host for a migration; `back` undoes it when the
 * migration does not happen. /proc/<keeper>/ns/net follows the main thread: after a
 * switch-over the container runs elsewhere, and nothing of it is left in its
 * namespace here. Does nothing for a keeper in the host's namespace.
 */
export function enterHostNetns(): { moved: boolean; back(): void } {
  // Already there (a stand-in stays after its handover, and a VM coming back to it
  // listens for its streams from there): only the outermost entry moves back.
  if (inHost || !hasHostNetnsFd()) return { moved: false, back: () => undefined };
  ownFd ??= fs.openSync('/proc/self/ns/net', 'r');
  native().setNetns(HOST_NETNS_FD);
  inHost = true;
  let done = false;
  return {
    moved: true,
    back: () => {
      if (done) return;
      done = true;
      native().setNetns(ownFd!);
      inHost = false;
    },
  };
}

let inHost = false;

/** True in a keeper started in the container's namespace whose main thread is not in the host's just now. */
export function inContainerNetns(): boolean {
  return !inHost && hasHostNetnsFd();
}

function hasHostNetnsFd(): boolean {
  try {
    return /^net:\[\d+\]$/.test(fs.readlinkSync(`/proc/self/fd/${HOST_NETNS_FD}`));
  } catch {
    return false;
  }
}
