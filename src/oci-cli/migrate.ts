// `runx migrate --to HOST:PORT [auth flags] [--bandwidth MiB/s] [--downtime-limit ms]
// [--postcopy] [--auto-converge] [--dry-run] [--netns PATH] [--stall-timeout S] [--format text|json] ID`
import type { Command } from 'commander';
import { RunxError } from '../errors';
import { runtimeOptions } from './globals';
import { absolutePaths, seconds, warnIfTokenExposed } from './flag-values';

const MiB = 1024 * 1024;

export function register(program: Command): void {
  program.command('migrate')
    .description('live-migrate a running container to another host\'s runx serve')
    .argument('<container-id>')
    .option('--to <host:port>', 'the destination\'s runx serve')
    .option('--cancel', 'cancel this container\'s migration in progress (before switch-over)', false)
    .option('--token-file <file>', 'shared token of the destination')
    .option('--tls-cert <file>', 'client certificate (mutual TLS)')
    .option('--tls-key <file>', 'client key')
    .option('--tls-ca <file>', 'CA that signed the server certificate')
    .option('--bandwidth <MiBps>', 'limit the migration bandwidth, MiB/s')
    .option('--downtime-limit <ms>', 'largest pause QEMU may take to switch over')
    .option('--postcopy', 'enable post-copy of memory', false)
    .option('--auto-converge', 'slow the guest down if it dirties memory faster than it moves', false)
    .option('--dry-run', 'check compatibility with the destination, move nothing', false)
    .option('--netns <path>', 'the destination host\'s network namespace for the container (default: the one it had there, if it comes back, else the same path as here)')
    .option('--stall-timeout <seconds>', 'fail (before switch-over, the container running on here) when a phase makes no progress or the destination does not answer for this long', '30')
    .option('--format <format>', 'text or json (the final report)', 'text')
    .action(async (id: string, flags: { to?: string; cancel: boolean; tokenFile?: string; tlsCert?: string; tlsKey?: string; tlsCa?: string; bandwidth?: string; downtimeLimit?: string; postcopy: boolean; autoConverge: boolean; dryRun: boolean; netns?: string; stallTimeout: string; format: string }) => {
      // The keeper reads them too, from the container's state directory.
      const o = absolutePaths(flags, ['tokenFile', 'tlsCert', 'tlsKey', 'tlsCa']);
      const { cancelMigration, migrateContainer } = await import('../migrate/migrate-container');
      if (o.cancel) {
        await cancelMigration(id, runtimeOptions(program));
        return;
      }
      if (!o.to) throw new RunxError('EUSAGE', 'migrate needs --to HOST:PORT (or --cancel)');
      runtimeOptions(program);
      warnIfTokenExposed(o.tokenFile);
      const tty = process.stderr.isTTY;
      const report = await migrateContainer(id, {
        to: o.to, tokenFile: o.tokenFile, tlsCert: o.tlsCert, tlsKey: o.tlsKey, tlsCa: o.tlsCa,
        bandwidthMiBps: o.bandwidth ? Number(o.bandwidth) : undefined,
        downtimeLimitMs: o.downtimeLimit ? Number(o.downtimeLimit) : undefined,
        postcopy: o.postcopy, autoConverge: o.autoConverge, dryRun: o.dryRun, netnsPath: o.netns,
        stallTimeoutMs: seconds('--stall-timeout', o.stallTimeout) * 1000,
      }, runtimeOptions(program), (p) => {
        if (!tty) return;
        const rate = p.mbps ? ` ${p.mbps.toFixed(0)} Mbit/s` : '';
        const dirty = p.dirtyPagesRate ? `, dirtying ${p.dirtyPagesRate} pages/s` : '';
        const down = p.expectedDowntimeMs !== undefined ? `, expected downtime ${p.expectedDowntimeMs} ms` : '';
        process.stderr.write(`\r${p.phase}: ${(p.transferred / MiB).toFixed(1)} MiB sent, ${(p.remaining / MiB).toFixed(1)} MiB left${rate}${dirty}${down}   `);
      });
      if (tty) process.stderr.write('\n');
      if (o.format === 'json') {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else if (report.dryRun) {
        process.stdout.write(`${id}: ${o.to} can take this container (dry run, nothing moved)\n`);
      } else {
        const q = report.qemu;
        const home = report.returned ? ' (back with its stand-in there; nothing of it is left here)' : '';
        process.stdout.write(`${id} now runs at ${o.to}${home}: ${report.totalMs} ms in all, switch-over ${report.switchoverMs} ms, downtime ${q?.downtimeMs ?? '?'} ms (QEMU), ${((q?.ramBytes ?? 0) / MiB).toFixed(1)} MiB of memory, ${((q?.diskBytes ?? 0) / MiB).toFixed(1)} MiB of disk\n`);
      }
    });
}
