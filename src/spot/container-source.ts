// The containers the daemon manages: the running ones under its runx --root, each
// with its memory (from the bundle's linux.resources, as the VM is sized) and a dirty
// rate estimate (annotation `runx.spot/dirty-rate-mibps`, else the policy default).
// One already moved away is not: its keeper stays as a stand-in and reads "running",
// but its VM is on the peer, and evacuating it again would fail and be reported.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerLoad } from './policy/evacuation';

export interface ContainerSource {
  list(): Promise<ContainerLoad[]>;
}

export const DIRTY_RATE_ANNOTATION = 'runx.spot/dirty-rate-mibps';
/** Set by the source keeper at switch-over (src/xcontainer/keeper/keeper.ts). */
const MIGRATED_TO_ANNOTATION = 'io.runx.migrated-to';

export class StateRootContainers implements ContainerSource {
  constructor(private readonly root: string, private readonly defaults: { memoryMiB: number; dirtyRateMiBps: number }) {}

  async list(): Promise<ContainerLoad[]> {
    const { listContainers, shapeFromResources } = await import('../xcontainer');
    const states = listContainers({ root: this.root } as Parameters<typeof listContainers>[0]);
    return states.filter((s) => (s.status === 'running' || s.status === 'paused' || s.status === 'created') && !s.annotations?.[MIGRATED_TO_ANNOTATION]).map((s) => {
      let memoryMiB = this.defaults.memoryMiB;
      try {
        const cfg = JSON.parse(fs.readFileSync(path.join(s.bundle, 'config.json'), 'utf8')) as { linux?: { resources?: Parameters<typeof shapeFromResources>[0] } };
        memoryMiB = shapeFromResources(cfg.linux?.resources, os.cpus().length).memoryMiB;
      } catch { /* bundle gone: keep the default */ }
      const rate = Number(s.annotations?.[DIRTY_RATE_ANNOTATION]);
      return { id: s.id, memoryMiB, dirtyRateMiBps: Number.isFinite(rate) && rate >= 0 ? rate : this.defaults.dirtyRateMiBps };
    });
  }
}
