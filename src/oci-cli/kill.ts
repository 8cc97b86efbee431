// `runx kill [--all] ID [SIGNAL]` (SIGNAL a name or number, default SIGTERM)
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('kill')
    .description('send a signal to the container\'s process')
    .argument('<container-id>')
    .argument('[signal]', 'signal name or number', 'SIGTERM')
    .option('-a, --all', 'send the signal to all processes in the container', false)
    .action(async (id: string, signal: string, o: { all: boolean }) => {
      const { killContainer, parseSignal } = await import('../xcontainer');
      await killContainer(id, parseSignal(signal), o.all, runtimeOptions(program));
    });
}
