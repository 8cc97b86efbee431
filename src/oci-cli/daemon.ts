// `runx daemon --config F`: the spot daemon (watch reclamation notices, evacuate).
import type { Command } from 'commander';
import { configureLog, log, logOptions } from '../log';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('daemon')
    .description('run the spot daemon: watch reclamation notices and evacuate containers')
    .requiredOption('--config <file>', 'daemon config, JSON or YAML')
    .action(async (o: { config: string }) => {
      const runtime = runtimeOptions(program);
      // A daemon logs JSON lines at info unless asked otherwise.
      if (program.getOptionValueSource('logFormat') === 'default') configureLog({ ...logOptions(), format: 'json' });
      const logger = log().child({ component: 'spot' }, { level: runtime.log.debug ? 'debug' : 'info' });
      const { runDaemon } = await import('../spot/daemon');
      await runDaemon(o.config, runtime, logger);
    });
}
