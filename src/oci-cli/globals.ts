// The global flags, as runc has them, turned into RuntimeOptions for the library.
import fs from 'node:fs';
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
  const root = path.resolve(g.root);
  checkRoot(root);
  return { root, accel: parseAccelMode(g.accel), log, systemdCgroup: g.systemdCgroup, boot: g.boot };
}

/** A --root that exists must be a directory (a missing one is made when needed). */
function checkRoot(root: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new RunxError('EUSAGE', `--root ${root}: ${code === 'ENOTDIR' ? 'a parent is not a directory' : `cannot be used (${code})`}`);
  }
  if (!st.isDirectory()) throw new RunxError('EUSAGE', `--root ${root} is not a directory`);
}
