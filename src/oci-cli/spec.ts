// `runx spec [--bundle B] [--rootless]`: writes a default config.json as runc does.
import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('spec')
    .description('create a new specification file (config.json)')
    .option('-b, --bundle <dir>', 'path to the root of the bundle directory', '.')
    .option('--rootless', 'generate a configuration for a rootless container', false)
    .action(async (o: { bundle: string; rootless: boolean }) => {
      const { writeDefaultSpec } = await import('../bundle/default-spec');
      writeDefaultSpec(o.bundle, o.rootless);
    });
}
