// The global flags, as runc has them, turned into RuntimeOptions for the library.
import path from 'node:path';
import type { Command } from 'commander';
import { configureLog, type LogFormat } from '../log';
import { RunxError } from '../errors';
import { type RuntimeOptions, parseAccelMode } from '../xcontainer';

export const DEFAULT_ROOT = '/run/runx';

export function defineGlobals(program: Command): void {
  program
    .option('--root <dir>', 'root directory for storage of container state', DEFAULT_ROOT)
    .option('--log <file>', 'log file (default: stderr)')
    .option('--log-format <format>', 'log format: text or json', 'text')
    .option('--debug', 'enable debug logging', false)
    .option('--systemd-cgroup', 'linux.cgroupsPath is "slice:prefix:name", placed as runc\'s systemd driver places it', false)
    .option('--rootless <value>', 'accepted for runc compatibility', 'auto')
    .option('--criu <path>', 'accepted for runc compatibility (runx checkpoints whole VMs)')
    .option('--accel <mode>', 'accelerator: auto, kvm or tcg', process.env.RUNX_ACCEL ?? 'auto')
    .option('--boot <how>', 'snapshot (start VMs from a saved template) or cold', process.env.RUNX_BOOT ?? 'snapshot');
}

interface GlobalFlags {
  root: string;
  log?: string;
  logFormat: string;
  debug: boolean;
  systemdCgroup: boolean;
  accel: string;
  boot: string;
}

export function runtimeOptions(program: Command): RuntimeOptions {
  const g = program.opts<GlobalFlags>();
  if (g.logFormat !== 'text' && g.logFormat !== 'json') throw new RunxError('EUSAGE', `--log-format must be text or json, not "${g.logFormat}"`);
  const log = { file: g.log, format: g.logFormat as LogFormat, debug: g.debug };
  configureLog(log);
  if (g.boot !== 'snapshot' && g.boot !== 'cold') throw new RunxError('EUSAGE', `--boot must be snapshot or cold, not "${g.boot}"`);
  // Absolute: the keeper works from the container's state directory.
  return { root: path.resolve(g.root), accel: parseAccelMode(g.accel), log, systemdCgroup: g.systemdCgroup, boot: g.boot };
}
