// linux.namespaces: which namespaces the guest agent creates for the container, and
// the check of namespace paths. A path names a namespace of the *host* kernel, which a
// process inside the VM cannot join: the VM has its own kernel and so its own
// namespaces of every type. A path of the right type is accepted (the container then
// shares the VM's namespace of that type, the nearest thing to "join an existing one");
// a path that is not a namespace of that type is a config error, as in runc.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { ConfigError } from '../errors';
import type { SpecLinux, SpecNamespace } from './spec-types';

/** runtime-spec type → the name the kernel uses in /proc/PID/ns links ("net:[...]"). */
export const NS_PROC_NAME: Readonly<Record<string, string>> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

/** The types the agent creates in the guest. Not network: the VM's own network stack
 * is the container's network namespace (with a path, the VM's NIC takes over that
 * namespace's interface, src/xcontainer/devices/net), so the container process shares
 * it. Not time: the VM is the boundary, and the guest's clock is the container's. A
 * user namespace is made with the config's uid and gid mappings of guest ids
 * (guestIdMaps), entered after the mounts. */
const GUEST_TYPES = new Set(['pid', 'mount', 'ipc', 'uts', 'cgroup', 'user']);

/** Lines of uid_map and gid_map the kernel takes. */
const MAX_ID_MAPS = 340;

const NSFS_MAGIC = 0x6e736673;
const NSENTER_FLAG: Readonly<Record<string, string>> = {
  net: '--net', pid: '--pid', mnt: '--mount', ipc: '--ipc', uts: '--uts', user: '--user', cgroup: '--cgroup', time: '--time',
};

/**
 * The namespace kind of a path, e.g. "net": from a /proc/PID/ns link ("net:[4026531833]"),
 * or, for a bind-mounted namespace file (/run/netns/NAME, as `ip netns` and CNI make
 * them), by asking setns(2) through nsenter whether it is a namespace of `expected`'s
 * kind (Node has no NS_GET_NSTYPE ioctl). Undefined if the path is no namespace.
 */
export function namespaceKind(p: string, expected?: string): string | undefined {
  try {
    return /^([a-z_]+):\[\d+\]$/.exec(fs.readlinkSync(p))?.[1];
  } catch { /* not a link: maybe a bind-mounted namespace file */ }
  let isNsfs = false;
  try {
    isNsfs = fs.statfsSync(p).type === NSFS_MAGIC;
  } catch {
    return undefined;
  }
  if (!isNsfs) return undefined;
  if (expected && NSENTER_FLAG[expected]) {
    const r = spawnSync('nsenter', [`${NSENTER_FLAG[expected]}=${p}`, '--', 'true'], { stdio: 'ignore' });
    if (r.status === 0) return expected;
  }
  return 'another';
}

export function validateNamespacePaths(namespaces: readonly SpecNamespace[]): void {
  const seen = new Set<string>();
  namespaces.forEach((ns, i) => {
    if (seen.has(ns.type)) {
      throw new ConfigError(`linux.namespaces[${i}].type`, `config.json: linux.namespaces[${i}]: duplicate namespace type "${ns.type}"`);
    }
    seen.add(ns.type);
    if (ns.path === undefined) return;
    const kind = namespaceKind(ns.path, NS_PROC_NAME[ns.type]);
    if (kind === undefined) {
      throw new ConfigError(`linux.namespaces[${i}].path`, `config.json: linux.namespaces[${i}].path "${ns.path}" is not a namespace`);
    }
    if (kind !== NS_PROC_NAME[ns.type]) {
      const what = kind === 'another' ? 'a namespace of another type' : `a ${kind} namespace`;
      throw new ConfigError(`linux.namespaces[${i}].path`, `config.json: linux.namespaces[${i}].path "${ns.path}" is ${what}, not ${ns.type}`);
    }
  });
}

/** The namespace types the agent should create: those in the config without a path. */
export function guestNamespaces(namespaces: readonly SpecNamespace[]): string[] {
  return namespaces.filter((ns) => ns.path === undefined && GUEST_TYPES.has(ns.type)).map((ns) => ns.type);
}

/**
 * The `uidmap` and `gidmap` fields ("CONTAINER:HOST:SIZE", HOST being a guest id) when
 * the agent makes a user namespace; none otherwise. As runc, a new user namespace
 * needs both mappings, and container uid and gid 0 mapped (its process becomes root
 * there before it changes to process.user).
 */
export function guestIdMaps(linux: SpecLinux | undefined): { uidmap: string[]; gidmap: string[] } {
  if (!guestNamespaces(linux?.namespaces ?? []).includes('user')) return { uidmap: [], gidmap: [] };
  const lines = (key: 'uidMappings' | 'gidMappings'): string[] => {
    const maps = linux?.[key] ?? [];
    if (maps.length === 0) throw new ConfigError(`linux.${key}`, `config.json: a user namespace needs linux.${key}`);
    if (maps.length > MAX_ID_MAPS) throw new ConfigError(`linux.${key}`, `config.json: linux.${key}: more than ${MAX_ID_MAPS} mappings`);
    maps.forEach((m, i) => {
      if (m.size < 1 || m.containerID + m.size > 2 ** 32 || m.hostID + m.size > 2 ** 32) {
        throw new ConfigError(`linux.${key}[${i}]`, `config.json: linux.${key}[${i}]: size must be at least 1 and the ranges within 32-bit ids`);
      }
    });
    if (!maps.some((m) => m.containerID === 0)) throw new ConfigError(`linux.${key}`, `config.json: linux.${key} must map container id 0`);
    return maps.map((m) => `${m.containerID}:${m.hostID}:${m.size}`);
  };
  return { uidmap: lines('uidMappings'), gidmap: lines('gidMappings') };
}

/**
 * Container ids as the guest numbers them, for what the agent makes before the
 * process enters its user namespace (mounts' uid=/gid= options, linux.devices owners):
 * runc makes those inside, where the config's ids are the container's. The identity
 * without a user namespace; an id the mappings leave out is a config error.
 */
export function guestIdTranslator(linux: SpecLinux | undefined): { uid(id: number, field: string): number; gid(id: number, field: string): number; data(d: string, field: string): string } {
  const userns = guestNamespaces(linux?.namespaces ?? []).includes('user');
  const through = (key: 'uidMappings' | 'gidMappings') => (id: number, field: string): number => {
    if (!userns) return id;
    const m = (linux?.[key] ?? []).find((e) => id >= e.containerID && id < e.containerID + e.size);
    if (!m) throw new ConfigError(field, `config.json: ${field}: ${key === 'uidMappings' ? 'uid' : 'gid'} ${id} is not in linux.${key}`);
    return m.hostID + (id - m.containerID);
  };
  const uid = through('uidMappings');
  const gid = through('gidMappings');
  return {
    uid,
    gid,
    data: (d, field) => (userns
      ? d.split(',').map((o) => {
        const kv = /^(uid|gid)=(\d+)$/.exec(o);
        if (!kv) return o;
        return `${kv[1]}=${(kv[1] === 'uid' ? uid : gid)(Number(kv[2]), field)}`;
      }).join(',')
      : d),
  };
}
