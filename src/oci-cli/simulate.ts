// `runx simulate --prices F [--preemptions F --polarity P] ...` replays a spot trace
// against the spot daemon's policy and the baselines; `runx simulate generate` writes
// a seeded synthetic trace set in the real formats.
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
}
