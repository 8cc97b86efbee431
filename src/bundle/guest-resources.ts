// linux.resources as the agent's res.* fields (docs/protocol/agent.md, "Resource
// fields"), for `create` and for `update`: the limits the guest kernel's cgroup applies
// to the container. Values keep runtime-spec's meaning; -1 becomes `max`, 0 ("not
// set") is left out. Everything is checked here, before a VM boots or a live limit
// changes, so a bad value changes nothing.
import { ConfigError } from '../errors';
import type { FieldValue } from './guest-field';

// The guest kernel's bounds (kernel/sched/core.c, kernel/cgroup/pids.c); the agent
// checks them again.
const CPU_PERIOD_MIN = 1000;
const CPU_PERIOD_MAX = 1_000_000;
const CPU_QUOTA_MIN = 1000;
const CPU_QUOTA_MAX = 2 ** 44 - 1;
const PIDS_MAX = 4 * 1024 * 1024;

/** Fields of linux.resources the guest cannot apply: ignored, named in a warning when set. */
const NOT_APPLIED = ['cpu.cpus', 'cpu.mems', 'cpu.realtimeRuntime', 'cpu.realtimePeriod', 'cpu.burst', 'cpu.idle',
  'memory.kernel', 'memory.kernelTCP', 'memory.swappiness', 'memory.disableOOMKiller',
  'blockIO', 'hugepageLimits', 'network', 'rdma', 'unified'] as const;

function objectAt(r: Record<string, unknown>, key: string, label: string): Record<string, unknown> | undefined {
  const v = r[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${label}.${key}`, `${label}.${key} must be an object`);
  return v as Record<string, unknown>;
}

function integerAt(o: Record<string, unknown> | undefined, key: string, field: string): number | undefined {
  const v = o?.[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(field, `${field} must be an integer, not ${JSON.stringify(v)}`);
  return v;
}

/** Decimal text of an integer that may be past 2^53 (JSON allows it), never "1e+21". */
const decimal = (n: number): string => BigInt(n).toString();

/**
 * A limit: -1 is none (`max`), 0 is not set (undefined), a positive number is itself.
 * `max` bounds it from above where the kernel does.
 */
function limit(v: number | undefined, field: string, max = Number.MAX_VALUE): string | undefined {
  if (v === undefined || v === 0) return undefined;
  if (v === -1) return 'max';
  if (v < 0) throw new ConfigError(field, `${field} must be positive, or -1 for no limit, not ${v}`);
  if (v > max) throw new ConfigError(field, `${field} ${v} is above the guest kernel's maximum ${max}`);
  return decimal(v);
}

/**
 * The res.* fields for `resources` (linux.resources, or what `update` was given);
 * `label` prefixes the field names in errors ("linux.resources", "resources").
 * `warn` hears of set fields the guest cannot apply.
 */
export function guestResourceFields(resources: unknown, label: string, warn?: (what: string) => void): Array<[string, FieldValue]> {
  if (resources === undefined || resources === null) return [];
  if (typeof resources !== 'object' || Array.isArray(resources)) throw new ConfigError(label, `${label} must be an object`);
  const r = resources as Record<string, unknown>;
  const memory = objectAt(r, 'memory', label);
  const cpu = objectAt(r, 'cpu', label);
  const pids = objectAt(r, 'pids', label);
  const fields: Array<[string, FieldValue]> = [];
  const push = (key: string, value: string | number | undefined) => { if (value !== undefined) fields.push([key, value]); };

  const memLimit = integerAt(memory, 'limit', `${label}.memory.limit`);
  const swap = integerAt(memory, 'swap', `${label}.memory.swap`);
  push('res.memory', limit(memLimit, `${label}.memory.limit`));
  push('res.memory.reservation', limit(integerAt(memory, 'reservation', `${label}.memory.reservation`), `${label}.memory.reservation`));
  push('res.memory.swap', limit(swap, `${label}.memory.swap`));
  if (memLimit !== undefined && memLimit > 0 && swap !== undefined && swap > 0 && swap < memLimit) {
    throw new ConfigError(`${label}.memory.swap`, `${label}.memory.swap: memory+swap limit should be >= memory limit`);
  }
  push('res.pids', limit(integerAt(pids, 'limit', `${label}.pids.limit`), `${label}.pids.limit`, PIDS_MAX));

  const shares = integerAt(cpu, 'shares', `${label}.cpu.shares`);
  if (shares !== undefined && shares < 0) throw new ConfigError(`${label}.cpu.shares`, `${label}.cpu.shares must not be negative, not ${shares}`);
  if (shares) push('res.cpu.shares', decimal(shares));
  const quota = limit(integerAt(cpu, 'quota', `${label}.cpu.quota`), `${label}.cpu.quota`, CPU_QUOTA_MAX);
  if (quota !== undefined && quota !== 'max' && Number(quota) < CPU_QUOTA_MIN) {
    throw new ConfigError(`${label}.cpu.quota`, `${label}.cpu.quota ${quota} is below the guest kernel's minimum ${CPU_QUOTA_MIN} (us)`);
  }
  push('res.cpu.quota', quota);
  const period = integerAt(cpu, 'period', `${label}.cpu.period`);
  if (period !== undefined && period !== 0) {
    if (period < CPU_PERIOD_MIN || period > CPU_PERIOD_MAX) {
      throw new ConfigError(`${label}.cpu.period`, `${label}.cpu.period ${period} is out of range (${CPU_PERIOD_MIN} to ${CPU_PERIOD_MAX} us)`);
    }
    push('res.cpu.period', decimal(period));
  }

  if (warn) {
    const set = NOT_APPLIED.filter((name) => {
      const [head, sub] = name.split('.') as [string, string | undefined];
      const v = sub === undefined ? r[head] : (r[head] as Record<string, unknown> | undefined)?.[sub];
      return v !== undefined && v !== null && v !== '' && v !== 0 && v !== false && !(Array.isArray(v) && v.length === 0) &&
        !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
    });
    if (set.length) warn(set.map((n) => `${label}.${n}`).join(', '));
  }
  return fields;
}
