// `runx update [--resources F|-] [--memory N] ... ID`: runc's flags. The guest applies
// memory, pids and cpu shares/quota/period; runc's other flags are accepted by name
// and refused when given, except the obsolete kernel-memory ones, which runc ignores.
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

const UNSUPPORTED = ['blkio-weight', 'cpuset-cpus', 'cpuset-mems', 'cpu-rt-period', 'cpu-rt-runtime', 'cpu-burst', 'cpu-idle', 'l3-cache-schema', 'mem-bw-schema'];
const OBSOLETE = ['kernel-memory', 'kernel-memory-tcp'];
const camel = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function register(program: Command): void {
  const cmd = program.command('update')
    .description('update container resource constraints')
    .argument('<container-id>')
    .option('-r, --resources <file>', 'file with the resources to update (runtime-spec LinuxResources JSON), or "-" for stdin; the other flags are then ignored')
    .option('--memory <bytes>', 'memory limit (bytes, or with a k/m/g suffix; -1 for none)')
    .option('--memory-reservation <bytes>', 'memory reservation (soft limit)')
    .option('--memory-swap <bytes>', 'total memory usage (memory + swap); -1 for unlimited swap')
    .option('--pids-limit <n>', 'maximum number of pids in the container (-1 for none)')
    .option('--cpu-quota <usecs>', 'CPU CFS quota: CPU time allowed per period (-1 for none)')
    .option('--cpu-period <usecs>', 'CPU CFS period')
    .option('--cpu-share <shares>', 'CPU shares (relative weight)')
    .option('--cpu-shares <shares>', 'the same as --cpu-share');
  for (const flag of [...UNSUPPORTED, ...OBSOLETE]) cmd.option(`--${flag} <value>`, 'accepted for runc compatibility; not applied in the guest');
  cmd.action(async (id: string, o: Record<string, string | undefined>) => {
    const { updateContainer } = await import('../xcontainer');
    await updateContainer(id, runtimeOptions(program), {
      resources: o.resources,
      memory: o.memory,
      memoryReservation: o.memoryReservation,
      memorySwap: o.memorySwap,
      pidsLimit: o.pidsLimit,
      cpuQuota: o.cpuQuota,
      cpuPeriod: o.cpuPeriod,
      cpuShares: o.cpuShares ?? o.cpuShare,
      unsupported: UNSUPPORTED.filter((f) => o[camel(f)] !== undefined).map((f) => `--${f}`),
      obsolete: OBSOLETE.filter((f) => o[camel(f)] !== undefined),
    });
  });
}
