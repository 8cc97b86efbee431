// `update`: change a running (or created) container's resource limits, applied live by
// the guest agent to the container's cgroup in the guest kernel. The resources come
// as runtime-spec LinuxResources JSON (a file, or stdin: what containerd's shim
// sends) or from runc's flags. Everything is checked before anything is sent, and the
// agent checks again before it writes, so refused input leaves the container as it was.
import fs from 'node:fs';
import { ConfigError, RunxError, containerNotRunning, messageOf } from '../../errors';
import { guestResourceFields } from '../../bundle/guest-resources';
import { log } from '../../log';
import { callKeeper } from '../keeper/keeper-client';
import { KEEPER_SOCKET } from '../keeper/keeper-launch';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

export interface UpdateOptions {
  /** A LinuxResources JSON file, or "-" for stdin; the flags below are then ignored, as with runc. */
  resources?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpuShares?: string;
  /** runc flags runx accepts but the guest cannot apply, by name, when given. */
  unsupported?: string[];
  /** runc's obsolete kernel-memory flags, when given: ignored with a warning, as runc does. */
  obsolete?: string[];
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** runc's memory flag values (go-units RAMInBytes): "1048576", "512m", "1.5GiB", or -1. */
export function parseBytes(flag: string, text: string): number {
  if (text === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(text);
  if (!m) throw new RunxError('EUSAGE', `invalid value for ${flag}: "${text}" (bytes, with an optional k, m, g or t suffix, or -1)`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
}

function parseInteger(flag: string, text: string, unsigned: boolean): number {
  if (!(unsigned ? /^\d+$/ : /^-?\d+$/).test(text)) throw new RunxError('EUSAGE', `invalid value for ${flag}: "${text}" (want ${unsigned ? 'a non-negative' : 'an'} integer)`);
  return Number(text);
}

/** Which flag sets which LinuxResources field: errors name the flag the user typed. */
const FLAG_OF: Record<string, string> = {
  'resources.memory.limit': '--memory', 'resources.memory.reservation': '--memory-reservation', 'resources.memory.swap': '--memory-swap',
  'resources.cpu.quota': '--cpu-quota', 'resources.cpu.period': '--cpu-period', 'resources.cpu.shares': '--cpu-share',
  'resources.pids.limit': '--pids-limit',
};

/** The LinuxResources the flags describe (only what was given). */
function resourcesFromFlags(o: UpdateOptions): Record<string, Record<string, number>> {
  const memory: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  const pids: Record<string, number> = {};
  if (o.memory !== undefined) memory.limit = parseBytes('--memory', o.memory);
  if (o.memoryReservation !== undefined) memory.reservation = parseBytes('--memory-reservation', o.memoryReservation);
  if (o.memorySwap !== undefined) memory.swap = parseBytes('--memory-swap', o.memorySwap);
  if (o.cpuQuota !== undefined) cpu.quota = parseInteger('--cpu-quota', o.cpuQuota, false);
  if (o.cpuPeriod !== undefined) cpu.period = parseInteger('--cpu-period', o.cpuPeriod, true);
  if (o.cpuShares !== undefined) cpu.shares = parseInteger('--cpu-share', o.cpuShares, true);
  if (o.pidsLimit !== undefined) pids.limit = parseInteger('--pids-limit', o.pidsLimit, false);
  return { memory, cpu, pids };
}

async function readResources(file: string): Promise<unknown> {
  let text: string;
  const from = file === '-' ? 'stdin' : file;
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      text = Buffer.concat(chunks).toString('utf8');
    } else {
      text = fs.readFileSync(file, 'utf8');
    }
  } catch (err) {
    throw new RunxError('EUSAGE', `cannot read resources from ${from}: ${messageOf(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RunxError('EUSAGE', `decoding resources from ${from}: ${messageOf(err)}`);
  }
}

export async function updateContainer(id: string, runtime: RuntimeOptions, opts: UpdateOptions): Promise<void> {
  const store = new StateStore(runtime.root);
  store.read(id); // an unknown id is the first thing to say
  let fields;
  if (opts.resources !== undefined) {
    fields = guestResourceFields(await readResources(opts.resources), 'resources',
      (what) => log().warn(`update: not applied (the guest applies memory, pids and cpu shares/quota/period): ${what}`));
  } else {
    if (opts.unsupported?.length) {
      throw new RunxError('EUSAGE', `${opts.unsupported.join(', ')}: not supported by runx (the guest applies memory, pids and cpu shares/quota/period)`);
    }
    if (opts.obsolete?.length) log().warn('Kernel memory settings are ignored and will be removed');
    try {
      fields = guestResourceFields(resourcesFromFlags(opts), 'resources');
    } catch (err) {
      if (!(err instanceof ConfigError) || !FLAG_OF[err.field]) throw err;
      throw new RunxError('EUSAGE', err.message.replace(err.field, FLAG_OF[err.field]!));
    }
  }
  const { status } = store.readLive(id);
  if (status !== 'running' && status !== 'created' && status !== 'paused') throw containerNotRunning(id);
  if (fields.length === 0) return;
  try {
    await callKeeper(store.file(id, KEEPER_SOCKET), 'update', { fields });
  } catch (err) {
    if (err instanceof RunxError && store.readLive(id).status === 'stopped') throw containerNotRunning(id);
    throw err;
  }
}
