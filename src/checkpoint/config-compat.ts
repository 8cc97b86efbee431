// Which config differences make a checkpoint unusable for a bundle: anything the
// running VM already embodies (its process, user, mounts, root, size). Annotations,
// hooks and the like may differ.
import type { SpecConfig } from '../bundle/spec-types';

const VITAL_FIELDS = [
  'process.args', 'process.env', 'process.cwd', 'process.user', 'process.terminal', 'process.rlimits',
  'process.noNewPrivileges', 'root.readonly', 'hostname', 'mounts',
  'linux.resources.memory.limit', 'linux.resources.cpu', 'linux.maskedPaths', 'linux.readonlyPaths',
];

function at(obj: unknown, dotted: string): unknown {
  let o: unknown = obj;
  for (const k of dotted.split('.')) o = o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
  return o;
}

/** The first field that differs in a way that matters, or undefined. */
export function vitalDifference(image: SpecConfig, bundle: SpecConfig): string | undefined {
  return VITAL_FIELDS.find((f) => JSON.stringify(at(image, f)) !== JSON.stringify(at(bundle, f)));
}
