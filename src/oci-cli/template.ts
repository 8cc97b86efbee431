// `runx template build [--bundle DIR | --nic --shares N] [--force]`, `runx template
// list [--format table|json]` and `runx template prune`: the VM templates snapshot
// boot starts from.
import type { Command } from 'commander';
import { RunxError } from '../errors';
import { type TemplateEntry, describeDevices } from '../xcontainer';
import { MAX_SHARES } from '../bundle/mount-plan';
import { runtimeOptions } from './globals';

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function table(entries: TemplateEntry[]): string {
  const rows = [['KEY', 'FORMAT', 'SHAPE', 'DEVICES', 'SIZE', 'CREATED', 'LAST USED', 'STATUS'],
    ...entries.map((e) => [e.name, e.format === undefined ? '-' : String(e.format),
      e.shape ? `${e.shape.memoryMiB}M/${e.shape.vcpus}cpu${e.accel ? `/${e.accel}` : ''}` : '-',
      e.devices ? describeDevices(e.devices) : '-', mib(e.sizeBytes),
      e.created ?? '-', e.lastUsed, e.reason ? `${e.status}: ${e.reason}` : e.status])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length + 2)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('').trimEnd()).join('\n') + '\n';
}

export function register(program: Command): void {
  const template = program.command('template')
    .description('build, list and prune the VM templates containers start from')
    .argument('[subcommand]')
    .action((sub?: string) => {
      throw new RunxError('EUSAGE', `${sub ? `unknown template subcommand '${sub}'` : 'template needs a subcommand'}: build, list or prune`);
    });
  template.command('build')
    .description('build the template for a bundle\'s containers (default: the default shape, no NIC, no shares), or check the one there')
    .option('-b, --bundle <dir>', 'bundle whose config.json gives the VM shape (linux.resources) and devices (a network namespace path: a NIC; bind mounts: 9p shares)')
    .option('--nic', 'without --bundle: for containers with a network namespace (a NIC)', false)
    .option('--shares <n>', `without --bundle: with n 9p shares (0-${MAX_SHARES}; a container with bind mounts has 1)`, '0')
    .option('--force', 'rebuild it even if a sound one is there', false)
    .action(async (o: { bundle?: string; nic: boolean; shares: string; force: boolean }) => {
      if (!/^\d+$/.test(o.shares) || Number(o.shares) > MAX_SHARES) throw new RunxError('EUSAGE', `--shares must be a number from 0 to ${MAX_SHARES}, not '${o.shares}'`);
      if (o.bundle !== undefined && (o.nic || o.shares !== '0')) throw new RunxError('EUSAGE', '--nic and --shares are for a template without --bundle: a bundle\'s config gives its devices');
      const { buildTemplate } = await import('../xcontainer');
      const t = await buildTemplate({ bundle: o.bundle, devices: { nic: o.nic, shares: Number(o.shares) }, force: o.force, accel: runtimeOptions(program).accel });
      const shape = `${t.shape.memoryMiB} MiB, ${t.shape.vcpus} vCPU, ${t.accel}${t.devices.nic || t.devices.shares ? `, ${describeDevices(t.devices)}` : ''}`;
      process.stdout.write(`${t.built ? 'built' : 'already there:'} VM template ${t.key} (${shape}) in ${t.dir}\n`);
    });
  template.command('list')
    .description('list the templates in the runx cache')
    .option('-f, --format <format>', 'table or json', 'table')
    .action(async (o: { format: string }) => {
      if (o.format !== 'table' && o.format !== 'json') throw new RunxError('EUSAGE', `invalid format option: ${o.format}`);
      const { keptTemplates, listTemplates } = await import('../xcontainer');
      const entries = await listTemplates({ keep: await keptTemplates(runtimeOptions(program).accel) });
      process.stdout.write(o.format === 'json' ? `${JSON.stringify(entries)}\n` : table(entries));
    });
  template.command('prune')
    .description('remove stale templates: of another format, unreadable, left by a failed build, or unused for 7 days')
    .action(async () => {
      const { keptTemplates, pruneTemplates } = await import('../xcontainer');
      const removed = await pruneTemplates({ keep: await keptTemplates(runtimeOptions(program).accel) });
      process.stdout.write(removed.map((e) => `removed ${e.name} (${e.reason}, ${mib(e.sizeBytes)})\n`).join(''));
    });
}
