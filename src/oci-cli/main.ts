// The runx command line: runc's global flags and verbs. Each verb module only declares
// its flags and calls one library function, loaded when that verb runs. This is the
// only place that prints an error: one line on stderr (and an error line in --log),
// exit status 1.
import { Command, CommanderError } from 'commander';
import { messageOf } from '../errors';
import { normaliseArgv, verbOf, wantsVersion } from './argv';
import { defineGlobals, runtimeOptions } from './globals';

interface VerbModule {
  register(p: Command): void;
}

/**
 * Each verb's module, loaded only when called. Written out, not computed from the
 * name, so the one-file binary's bundler (scripts/build-sea.js) sees every module.
 */
/* eslint-disable @typescript-eslint/no-var-requires */
const VERB_MODULES: Record<string, () => VerbModule> = {
  create: () => require('./create'),
  start: () => require('./start'),
  state: () => require('./state'),
  kill: () => require('./kill'),
  delete: () => require('./delete'),
  run: () => require('./run'),
  list: () => require('./list'),
  spec: () => require('./spec'),
  checkpoint: () => require('./checkpoint'),
  restore: () => require('./restore'),
  simulate: () => require('./simulate'),
  daemon: () => require('./daemon'),
  pause: () => require('./pause'),
  ps: () => require('./ps'),
  serve: () => require('./serve'),
  migrate: () => require('./migrate'),
  features: () => require('./features'),
  exec: () => require('./exec'),
  events: () => require('./events'),
  update: () => require('./update'),
  template: () => require('./template'),
  logs: () => require('./logs'),
};
/* eslint-enable @typescript-eslint/no-var-requires */
const VERBS = Object.keys(VERB_MODULES);

/** Modules that register more than their own name. */
const MODULE_OF: Record<string, string> = { resume: 'pause' };
const GLOBALS_WITH_VALUE = new Set(['root', 'log', 'log-format', 'rootless', 'criu', 'accel', 'boot']);

function buildProgram(verb: string | undefined): Command {
  const program = new Command('runx')
    .description('an OCI runtime that runs each container in its own small VM')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  defineGlobals(program);
  const module = verb && (MODULE_OF[verb] ?? verb);
  // Only the named verb's module, when there is one: the others are not needed.
  const modules = module && VERBS.includes(module) ? [module] : VERBS;
  for (const m of modules) VERB_MODULES[m]!().register(program);
  return program;
}

function longOptionNames(program: Command, withValue = false): Set<string> {
  const names = new Set<string>();
  for (const cmd of [program, ...program.commands]) {
    for (const opt of cmd.options) {
      if (!opt.long || (withValue && !opt.required && !opt.optional)) continue;
      names.add(opt.long.replace(/^--(no-)?/, '')).add(opt.long.slice(2));
    }
  }
  return names;
}

function reportError(program: Command, err: unknown): void {
  const msg = messageOf(err);
  // With --log the error line also goes to the log, where containerd's shim reads the
  // last one; stderr always gets it, for people and for go-runc (which appends stderr).
  if (program.opts<{ log?: string }>().log) {
    try {
      runtimeOptions(program);
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      (require('../log') as typeof import('../log')).log().error(msg);
    } catch { /* the log flags themselves were bad */ }
  }
  process.stderr.write(`runx: ${msg}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  if (wantsVersion(args, new Set([...VERBS, 'resume']))) {
    const { versionText } = await import('./version');
    process.stdout.write(versionText());
    return;
  }
  const program = buildProgram(verbOf(args, GLOBALS_WITH_VALUE));
  try {
    await program.parseAsync(normaliseArgv(args, longOptionNames(program), longOptionNames(program, true)), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return;
      process.stderr.write(`runx: ${err.message.replace(/^error: /, '')}\n`);
      process.exitCode = 1;
      return;
    }
    reportError(program, err);
    process.exitCode = 1;
  }
}

if (require.main === module) void main(process.argv);
