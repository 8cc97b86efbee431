// `runx logs [--follow] ID`: the container's output from its durable log in the state
// directory (the last few MiB), stdout to stdout and stderr to stderr.
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('logs')
    .description("print a container's stdout and stderr from its output log")
    .option('-f, --follow', 'go on printing until the container stops')
    .argument('<container-id>')
    .action(async (id: string, o: { follow?: boolean }) => {
      const { containerLogs, writeAllSync } = await import('../xcontainer');
      await containerLogs(id, runtimeOptions(program), { follow: o.follow === true }, {
        stdout: (b) => void writeAllSync(1, b),
        stderr: (b) => void writeAllSync(2, b),
      });
    });
}
