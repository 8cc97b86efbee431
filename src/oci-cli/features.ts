// `runx features`: the runtime-spec features JSON.
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('features')
    .description('show the enabled features')
    .action(async () => {
      const { runtimeFeatures } = await import('../xcontainer');
      const { versionText } = await import('./version');
      const version = versionText().split('\n')[0]!.replace(/^runx version /, '');
      process.stdout.write(`${JSON.stringify(runtimeFeatures(runtimeOptions(program), version), null, 4)}\n`);
    });
}
