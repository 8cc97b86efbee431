// `runx serve --listen HOST:PORT [--token-file F] [--tls-cert C --tls-key K --tls-ca CA]`
import type { Command } from 'commander';
import { runtimeOptions } from './globals';
import { absolutePaths, seconds, warnIfTokenExposed } from './flag-values';
import { volumeRoots } from '../migrate/volume-roots';

export function register(program: Command): void {
  program.command('serve')
    .description('receive live-migrated containers (the migration service)')
    .requiredOption('--listen <host:port>', 'address to listen on')
    .option('--token-file <file>', 'shared token that clients must present')
    .option('--tls-cert <file>', 'server certificate (mutual TLS)')
    .option('--tls-key <file>', 'server key')
    .option('--tls-ca <file>', 'CA that signs client certificates')
    .option('--source-timeout <seconds>', 'abort an incoming migration whose source has been silent this long', '60')
    .option('--volume-root <dir>', 'a directory (an engine\'s volume store) whose bind sources an incoming container keeps at the same path; repeatable', (v: string, all: string[]) => [...all, v], [] as string[])
    .action(async (flags: { listen: string; tokenFile?: string; tlsCert?: string; tlsKey?: string; tlsCa?: string; sourceTimeout: string; volumeRoot: string[] }) => {
      const files = absolutePaths(flags, ['tokenFile', 'tlsCert', 'tlsKey', 'tlsCa']);
      const runtime = runtimeOptions(program);
      warnIfTokenExposed(files.tokenFile);
      const o = { ...files, sourceTimeoutMs: seconds('--source-timeout', flags.sourceTimeout) * 1000, volumeRoots: volumeRoots(flags.volumeRoot, '--volume-root') };
      const { serveMigration } = await import('../migrate/serve');
      const { port } = await serveMigration(o, runtime);
      process.stderr.write(`runx serve: listening on port ${port}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      process.exit(0);
    });
}
