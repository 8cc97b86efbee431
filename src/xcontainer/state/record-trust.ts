// What a state.json may say about paths. The store derives every file of a container
// from <root>/<id>, never from the record; the record's own fields that name places
// are checked here when it is read, so a state.json copied from another container or
// edited to point elsewhere is refused instead of steering a write (the store writes
// the record back to <root>/<rec.id>) or a removal (delete removes rec.cgroup's
// directories) outside where it belongs.
import path from 'node:path';
import { CGROUP_ROOT } from '../cgroup/host-cgroup';
import type { ContainerRecord } from './container-record';

/** Why the record of `id` may not be used as it is, or undefined when it may. */
export function recordProblem(rec: ContainerRecord, id: string): string | undefined {
  if (typeof rec !== 'object' || rec === null) return 'is corrupt';
  if (rec.id !== id) return `is of another container (${JSON.stringify(rec.id)})`;
  for (const dir of Object.values(rec.cgroup?.dirs ?? {})) {
    const rel = path.relative(CGROUP_ROOT, path.resolve(String(dir)));
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return `names cgroup ${String(dir)}, which is not under ${CGROUP_ROOT}`;
  }
  return undefined;
}
