// Which config differences make a checkpoint unusable for a bundle: anything the
// running VM already embodies (its process, user, mounts, root, size). Annotations,
// hooks and the like may differ. Mounts are compared as a set: Podman's restore
// --import writes its own binds (hosts, hostname, .containerenv, shm) in another order
// and spells their propagation "private" for "rprivate", and neither changes what the
// saved VM has mounted (restore-shares.ts matches binds to slots by destination).
import type { SpecConfig, SpecMount } from '../bundle/spec-types';

const VITAL_FIELDS = [
  'process.args', 'process.env', 'process.cwd', 'process.user', 'process.terminal', 'process.rlimits',
  'process.noNewPrivileges', 'root.readonly', 'hostname', 'mounts',
  'linux.resources.memory.limit', 'linux.resources.cpu', 'linux.maskedPaths', 'linux.readonlyPaths',
];

const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']);

/** The mounts as a sorted list of their text, propagation left out. */
function mountSet(mounts: unknown): unknown {
  if (!Array.isArray(mounts)) return mounts;
  return (mounts as SpecMount[]).map((m) => JSON.stringify({ ...m, options: m.options?.filter((o) => !PROPAGATION.has(o)) })).sort();
}

function at(obj: unknown, dotted: string): unknown {
  let o: unknown = obj;
  for (const k of dotted.split('.')) o = o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
  return o;
}

/** The first field that differs in a way that matters, or undefined. */
export function vitalDifference(image: SpecConfig, bundle: SpecConfig): string | undefined {
  const view = (config: SpecConfig, f: string) => (f === 'mounts' ? mountSet(at(config, f)) : at(config, f));
  return VITAL_FIELDS.find((f) => JSON.stringify(view(image, f)) !== JSON.stringify(view(bundle, f)));
}
