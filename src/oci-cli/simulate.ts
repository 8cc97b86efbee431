// `runx simulate --prices F [--preemptions F --polarity P] ...` replays a spot trace
// against the spot daemon's policy and the baselines; `runx simulate generate` writes
// a seeded synthetic trace set in the real formats; `runx simulate fleet` runs a
// zone-wide reclaim over fleets of N spot and M on-demand hosts (src/spot/simulator/fleet.ts).
import type { Command } from 'commander';
import { RunxError } from '../errors';

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RunxError('EUSAGE', `"${v}" is not a number`);
  return n;
};

export function register(program: Command): void {
  const cmd = program.command('simulate')
    .description('replay a spot price/preemption trace against the spot policy and baselines')
    .option('--prices <file>', 'price history: AWS describe-spot-price-history JSON or CSV timestamp,zone,instanceType,price')
    .option('--preemptions <file>', 'preemption trace in the spot-traces JSON shape')
    .option('--polarity <p>', 'preemption values: "available" (>0 = capacity there) or "preempted" (>0 = reclaimed)')
    .option('--zone <zone>', 'availability zone (default: the first in the file)')
    .option('--instance-type <type>', 'instance type (default: the first in the file)')
    .option('--on-demand-price <usd>', 'on-demand USD/hour (default: built-in us-east-1 list)', num)
    .option('--containers <n>', 'containers on the host', num, 8)
    .option('--memory-mib <n>', 'memory per container, MiB', num, 256)
    .option('--dirty-rate <mibps>', 'guest dirty rate per container, MiB/s', num, 1)
    .option('--disk-mib <n>', 'disk data to move per container, MiB', num, 0)
    .option('--link-mibps <n>', 'link bandwidth for evacuation, MiB/s', num, 100)
    .option('--notice-seconds <n>', 'notice before a reclaim (AWS 120, GCP/Azure 30)', num, 120)
    .option('--policy <file>', 'JSON policy options (risk, hysteresis, planner)')
    .option('--format <format>', 'text or json', 'text')
    .action(async (o: Record<string, unknown>) => {
      if (!o.prices) throw new RunxError('EUSAGE', 'simulate needs --prices FILE');
      if (o.format !== 'text' && o.format !== 'json') throw new RunxError('EUSAGE', `--format must be text or json, not "${String(o.format)}"`);
      if (o.polarity !== undefined && o.polarity !== 'available' && o.polarity !== 'preempted') throw new RunxError('EUSAGE', '--polarity must be available or preempted');
      const { runSimulation } = await import('../spot/simulator/run');
      const { text } = runSimulation({
        prices: String(o.prices), preemptions: o.preemptions as string | undefined, polarity: o.polarity as 'available' | 'preempted' | undefined,
        zone: o.zone as string | undefined, instanceType: o.instanceType as string | undefined, onDemandPrice: o.onDemandPrice as number | undefined,
        containers: o.containers as number, memoryMiB: o.memoryMib as number, dirtyRateMiBps: o.dirtyRate as number, diskMiB: o.diskMib as number,
        linkMiBps: o.linkMibps as number, noticeSeconds: o.noticeSeconds as number, policy: o.policy as string | undefined, format: o.format,
      });
      process.stdout.write(text);
    });
  cmd.command('generate')
    .description('write a seeded synthetic trace set (prices JSON + CSV, preemption JSON)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--name <name>', 'file name stem', 'trace')
    .option('--seed <n>', 'PRNG seed', num, 1)
    .option('--instance-type <type>', 'instance type', 'm5.large')
    .option('--zone <zone>', 'availability zone', 'us-east-1a')
    .option('--start <iso>', 'start time', '2024-01-01T00:00:00.000Z')
    .option('--days <n>', 'length in days', num, 7)
    .option('--band <band>', 'interruption band: <5% 5-10% 10-15% 15-20% >20%', '5-10%')
    .option('--reclaims-per-day <n>', 'override the band (stress traces)', num)
    .action(async (o: { out: string; name: string; seed: number; instanceType: string; zone: string; start: string; days: number; band: string; reclaimsPerDay?: number }) => {
      const { writeGenerated } = await import('../spot/simulator/run');
      const files = writeGenerated({ seed: o.seed, instanceType: o.instanceType, zone: o.zone, start: o.start, days: o.days, band: o.band, reclaimsPerDay: o.reclaimsPerDay }, o.out, o.name);
      process.stdout.write(files.map((f) => `${f}\n`).join(''));
    });
  cmd.command('fleet')
    .description('zone-wide reclaims over fleets of spot and on-demand hosts, through the daemon\'s planner and reservations')
    .option('--sizes <list>', 'fleet sizes (hosts), comma-separated', '10,100,1000')
    .option('--spot-fraction <f>', 'share of each fleet on spot', num, 0.8)
    .option('--on-demand-capacity-mib <n>', 'memory each on-demand host offers to evacuees', num, 16_384)
    .option('--containers-per-host <n>', 'containers on each spot host', num, 4)
    .option('--memory-mib <n>', 'memory per container, MiB', num, 1024)
    .option('--dirty-rate <mibps>', 'guest dirty rate per container, MiB/s', num, 20)
    .option('--link-mibps <n>', 'each host\'s link, MiB/s (625 ≈ 5 Gbit/s)', num, 625)
    .option('--concurrency <n>', 'moves in parallel per host', num, 2)
    .option('--notice-seconds <n>', 'notice before a reclaim (AWS 120, GCP/Azure 30)', num, 120)
    .option('--etcd-rtt-ms <n>', 'time of one etcd round trip', num, 2)
    .option('--instance-type <type>', 'instance type of the generated trace', 'm5.large')
    .option('--days <n>', 'length of the generated trace', num, 7)
    .option('--seed <n>', 'PRNG seed', num, 1)
    .option('--band <band>', 'interruption band', '5-10%')
    .option('--reclaims-per-day <n>', 'override the band (stress)', num)
    .option('--format <format>', 'text or json', 'text')
    .action(async (o: { sizes: string; spotFraction: number; onDemandCapacityMib: number; containersPerHost: number; memoryMib: number; dirtyRate: number; linkMibps: number; concurrency: number; noticeSeconds: number; etcdRttMs: number; instanceType: string; days: number; seed: number; band: string; reclaimsPerDay?: number; format: string }) => {
      const sizes = o.sizes.split(',').map((x) => num(x.trim()));
      if (sizes.some((x) => !(x >= 2))) throw new RunxError('EUSAGE', '--sizes must be numbers of hosts, each at least 2');
      if (!(o.spotFraction > 0 && o.spotFraction < 1)) throw new RunxError('EUSAGE', '--spot-fraction must be between 0 and 1');
      const { generateTraces } = await import('../spot/simulator/generate');
      const { simulateFleet, formatFleetTable } = await import('../spot/simulator/fleet');
      const g = generateTraces({ seed: o.seed, instanceType: o.instanceType, days: o.days, band: o.band, reclaimsPerDay: o.reclaimsPerDay });
      const rows = [];
      for (const size of sizes) {
        const spotHosts = Math.max(1, Math.round(size * o.spotFraction));
        rows.push(await simulateFleet({
          prices: g.prices, onDemandPrice: g.onDemandPrice, preemption: g.preemption, start: g.prices[0]!.time, durationMs: o.days * 86_400_000,
          spotHosts, onDemandHosts: Math.max(1, Math.round(size) - spotHosts), onDemandCapacityMiB: o.onDemandCapacityMib, containersPerHost: o.containersPerHost,
          container: { memoryMiB: o.memoryMib, dirtyRateMiBps: o.dirtyRate }, noticeMs: o.noticeSeconds * 1000, linkMiBps: o.linkMibps,
          planner: { concurrency: o.concurrency }, etcdRttMs: o.etcdRttMs,
        }));
      }
      process.stdout.write(o.format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : formatFleetTable(rows));
    });
}
