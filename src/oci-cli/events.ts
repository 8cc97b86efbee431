// `runx events [--stats] [--interval 5s] ID`: the container's cpu, memory and pids usage
// from its guest, as runc's JSON lines; without --stats, a sample every interval (and
// an oom event when the guest's OOM killer struck) until the container ends.
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('events')
    .description('display container events such as OOM notifications and cpu, memory and pids usage statistics')
    .argument('<container-id>')
    .option('--stats', 'display the container\'s stats then exit', false)
    .option('--interval <duration>', 'set the stats collection interval', '5s')
    .action(async (id: string, o: { stats: boolean; interval: string }) => {
      const { containerEvents, writeAllSync } = await import('../xcontainer');
      await containerEvents(id, runtimeOptions(program), o, (e) => writeAllSync(1, Buffer.from(`${JSON.stringify(e)}\n`)));
    });
}
