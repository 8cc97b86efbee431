// `events`: the container's cpu, memory and pids usage, read from its cgroup in the
// guest (the keeper asks the agent), as runc prints it: JSON lines
// {"type":"stats","id":ID,"data":{...}} shaped like runc's types/events.go (Go's
// omitempty included), and {"type":"oom","id":ID} when the guest's OOM killer ended a
// process of the container since the previous sample.
import fs from 'node:fs';
import { RunxError } from '../../errors';
import type { ContainerStatus } from '../../bundle/spec-types';
import { sleep } from '../host/host';
import { callKeeper } from '../keeper/keeper-client';
import { KEEPER_SOCKET, LAUNCH_FILE, type KeeperLaunch } from '../keeper/keeper-launch';
import { type RuncNetworkInterface, networkInterfaceStats } from '../devices/net/net-stats';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

interface MemoryEntry { limit: number; usage?: number; max?: number; failcnt: number }

export interface RuncStats {
  cpu: {
    usage: { total?: number; kernel: number; user: number };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  memory: { cache?: number; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry };
  pids: { current?: number; limit?: number };
  blkio: Record<string, never>;
  hugetlb: Record<string, never>;
  /** The VM's NIC, from its namespace's interface (omitempty: none without a NIC). */
  network_interfaces?: RuncNetworkInterface[];
}

export type RuncEvent = { type: 'stats'; id: string; data: RuncStats } | { type: 'oom'; id: string };

export interface EventsOptions {
  /** One stats event, then return. */
  stats: boolean;
  /** Go duration text (runc's flag): "5s", "500ms", "1m30s". */
  interval: string;
}

/** The agent's `usage` fields, as the keeper returns them. */
type Usage = Record<string, string>;

// How often a stream looks at the container's status between samples, so that it
// ends soon after the container does, whatever the interval.
const STATUS_POLL_MS = 250;

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a Go duration ("1h2m3.5s"); throws on anything else. */
export function parseGoDuration(text: string): number {
  const bad = () => new RunxError('EUSAGE', `invalid --interval "${text}": want a duration such as 5s, 500ms or 1m30s`);
  if (text === '0') return 0;
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(text);
  if (!m) throw bad();
  let ms = 0;
  for (const part of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(part[1]) * GO_UNITS[part[2]!]!;
  return m[1] === '-' ? -ms : ms;
}

const num = (u: Usage, key: string): number => Number(u[key] ?? 0);

/** Go's omitempty: zero numbers are left out. */
function omitZero<T extends object>(o: T, keys: ReadonlyArray<keyof T>): T {
  for (const k of keys) if (o[k] === 0) delete o[k];
  return o;
}

const entry = (limit: number, usage: number, max: number, failcnt: number): MemoryEntry =>
  omitZero({ limit, usage, max, failcnt }, ['usage', 'max']);

/** runc's stats JSON from the agent's counters (docs/protocol/agent.md, "usage fields"). */
export function runcStats(u: Usage): RuncStats {
  const memUsage = num(u, 'mem.usage');
  const memLimit = num(u, 'mem.limit');
  return {
    cpu: {
      usage: omitZero({ total: num(u, 'cpu.total'), kernel: num(u, 'cpu.kernel'), user: num(u, 'cpu.user') }, ['total']),
      throttling: omitZero({ periods: num(u, 'cpu.periods'), throttledPeriods: num(u, 'cpu.throttled.periods'), throttledTime: num(u, 'cpu.throttled.time') },
        ['periods', 'throttledPeriods', 'throttledTime']),
    },
    memory: omitZero({
      cache: num(u, 'mem.cache'),
      usage: entry(memLimit, memUsage, num(u, 'mem.peak'), num(u, 'mem.failcnt')),
      // v1's memory+swap, as runc reports it on v2. With no swap limit the guest's bound
      // is its memory limit: it has no swap device.
      swap: entry(memLimit + num(u, 'swap.limit'), memUsage + num(u, 'swap.usage'), 0, 0),
      kernel: entry(0, 0, 0, 0),
      kernelTCP: entry(0, 0, 0, 0),
    }, ['cache']),
    pids: omitZero({ current: num(u, 'pids.current'), limit: num(u, 'pids.limit') }, ['current', 'limit']),
    blkio: {},
    hugetlb: {},
  };
}

/** Adds the NIC's counters, when the container has one. */
function withNetwork(store: StateStore, id: string, stats: RuncStats): RuncStats {
  let net;
  try {
    net = (JSON.parse(fs.readFileSync(store.file(id, LAUNCH_FILE), 'utf8')) as KeeperLaunch).qemu.network;
  } catch {
    return stats;
  }
  const nic = net && networkInterfaceStats(net);
  return nic ? { ...stats, network_interfaces: [nic] } : stats;
}

function statusOf(store: StateStore, id: string): ContainerStatus {
  try {
    return store.readLive(id).status;
  } catch (err) {
    // Deleted while we watched: it has ended.
    if (err instanceof RunxError && err.code === 'ENOTFOUND') return 'stopped';
    throw err;
  }
}

async function sample(store: StateStore, id: string): Promise<Usage> {
  return callKeeper(store.file(id, KEEPER_SOCKET), 'stats', {});
}

/**
 * With opts.stats, emits one stats event. Otherwise emits one at once and then every
 * interval until the container ends (a paused container's VM cannot be asked: those
 * samples are skipped), with an oom event before a sample whose OOM-kill count grew.
 * Returns early when emit says its reader has gone.
 */
export async function containerEvents(id: string, runtime: RuntimeOptions, opts: EventsOptions, emit: (e: RuncEvent) => boolean): Promise<void> {
  const intervalMs = parseGoDuration(opts.interval);
  if (intervalMs <= 0) throw new RunxError('EUSAGE', 'duration interval must be greater than 0');
  const store = new StateStore(runtime.root);
  const { status } = store.readLive(id);
  if (status === 'stopped' || status === 'creating') throw new RunxError('ESTATE', `container with id ${id} is not running`);
  if (opts.stats) {
    emit({ type: 'stats', id, data: withNetwork(store, id, runcStats(await sample(store, id))) });
    return;
  }
  let oomKills: number | undefined;
  for (;;) {
    const now = statusOf(store, id);
    if (now === 'stopped') return;
    if (now !== 'paused') {
      let usage: Usage;
      try {
        usage = await sample(store, id);
      } catch (err) {
        // Ended (or paused) between the look at its status and the answer.
        const after = statusOf(store, id);
        if (after === 'stopped') return;
        if (after !== 'paused') throw err;
        usage = {};
      }
      if (Object.keys(usage).length) {
        const kills = num(usage, 'oom.kills');
        if (oomKills !== undefined && kills > oomKills && !emit({ type: 'oom', id })) return;
        oomKills = kills;
        if (!emit({ type: 'stats', id, data: withNetwork(store, id, runcStats(usage)) })) return;
      }
    }
    const until = Date.now() + intervalMs;
    while (Date.now() < until) {
      await sleep(Math.min(STATUS_POLL_MS, until - Date.now()));
      if (statusOf(store, id) === 'stopped') return;
    }
  }
}
