// The network namespace runx makes for a container whose config asks for a new one
// without a path, as runc makes it. The keeper is started in it (`unshare --net`), so
// the pid runx reports (state.pid, --pid-file) is in the container's namespace: what
// engines do to /proc/<pid>/ns/net (Docker's libnetwork-setkey prestart hook, CNI run
// against the pid) lands there, never in the host's. QEMU, the keeper's child, is in
// it too, and so is the tap when a hook put an interface there. The namespace has no
// file: it lives exactly as long as the keeper and QEMU, so it ends with the container.
//
// The keeper keeps the namespace it was started from open at HOST_NETNS_FD, because
// its own sockets to another host (a migration's streams, a stand-in's link) must be
// made there; see enterHostNetns.
import fs from 'node:fs';
import { native } from '../../host/native';

/** The keeper's fd for the network namespace of the runx that started it. */
export const HOST_NETNS_FD = 4;

/**
 * Whether the bundle's config asks for a new network namespace without a path. Read
 * before the bundle is validated (the keeper starts first, see container-create.ts),
 * so a config that cannot be read counts as no: its error comes from loadBundle.
 */
export function wantsOwnNetns(bundleDir: string): boolean {
  try {
    const config = JSON.parse(fs.readFileSync(`${bundleDir}/config.json`, 'utf8')) as { linux?: { namespaces?: unknown } };
    const namespaces = config.linux?.namespaces;
    if (!Array.isArray(namespaces)) return false;
    return namespaces.some((ns: { type?: unknown; path?: unknown }) => ns?.type === 'network' && !ns.path);
  } catch {
    return false;
  }
}

/** The container's network namespace, as seen through its keeper. */
export function keeperNetnsPath(keeperPid: number): string {
  return `/proc/${keeperPid}/ns/net`;
}

/** How to start a keeper in a new network namespace: a prefix and the fd to pass it as HOST_NETNS_FD. */
export function ownNetnsSpawn(): { prefix: string[]; hostFd: number } {
  // unshare(1) without --fork execs the keeper: its pid is the keeper's.
  return { prefix: ['unshare', '--net', '--'], hostFd: fs.openSync('/proc/self/ns/net', 'r') };
}

let ownFd: number | undefined;

/**
 * In the keeper: its main thread (sockets, children) moves to the namespace it was
 * started from, to reach another host for a migration; `back` undoes it when the
 * migration does not happen. /proc/<keeper>/ns/net follows the main thread: after a
 * switch-over the container runs elsewhere, and nothing of it is left in its
 * namespace here. Does nothing for a keeper in the host's namespace.
 */
export function enterHostNetns(): { back(): void } {
  if (!hasHostNetnsFd()) return { back: () => undefined };
  ownFd ??= fs.openSync('/proc/self/ns/net', 'r');
  native().setNetns(HOST_NETNS_FD);
  return { back: () => native().setNetns(ownFd!) };
}

function hasHostNetnsFd(): boolean {
  try {
    return /^net:\[\d+\]$/.test(fs.readlinkSync(`/proc/self/fd/${HOST_NETNS_FD}`));
  } catch {
    return false;
  }
}
