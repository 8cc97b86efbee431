// The spot daemon's configuration file (`runx daemon --config F`): JSON, or YAML when
// the name ends in .yaml/.yml (or the text is not JSON). Checked against
// config-schema.json (draft-07, Ajv); the first problem is a one-line ConfigError
// naming the field, e.g. `daemon.json: peers[1].price must be number`.
import fs from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ConfigError, RunxError, messageOf } from '../errors';
import schema from './config-schema.json';

export type Market = 'spot' | 'on-demand';

export interface PeerConfig {
  name: string;
  address: string;
  market: Market;
  price: number;
  tokenFile?: string;
  memoryMiB?: number;
}

export interface PolicyConfig {
  onDemandPrice?: number;
  priceHistoryFile?: string;
  zone?: string;
  instanceType?: string;
  evaluateSeconds?: number;
  riskThreshold?: number;
  returnBelow?: number;
  calmMinutes?: number;
  minDwellMinutes?: number;
  minSavings?: number;
  linkMiBps?: number;
  concurrency?: number;
  safetySeconds?: number;
  defaultMemoryMiB?: number;
  defaultDirtyRateMiBps?: number;
}

export interface EtcdConfig {
  endpoints: string[];
  /** Peers' registrations. */
  prefix?: string;
  /** Reservations of room on peers. */
  reservationsPrefix?: string;
  /** TTL of this daemon's leases (registration and reservations). */
  leaseSeconds?: number;
  /** This host's name in the fleet (default: the hostname). */
  name?: string;
  /** Register this host as a peer offering `capacityMiB` to evacuees. */
  register?: { capacityMiB: number; address?: string };
}

export interface DaemonConfig {
  listen: string;
  tokenFile: string;
  root?: string;
  /** As `runx serve --volume-root`: where containers migrated here keep their bind sources' paths (docs/mounts.md). */
  volumeRoots?: string[];
  provider: { kind: 'aws' | 'gcp' | 'azure' | 'none'; endpoint?: string; pollSeconds?: number; requestTimeoutSeconds?: number };
  market: Market;
  price: number;
  peers?: PeerConfig[];
  etcd?: EtcdConfig;
  metrics?: { listen?: string };
  /** The gRPC control API's unix socket (docs/protocol/daemon.proto). */
  control?: { socket?: string };
  policy?: PolicyConfig;
}

let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  if (compiled) return compiled;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Ajv = require('ajv') as typeof import('ajv').default;
  compiled = new Ajv({ allErrors: false, strict: false, useDefaults: true }).compile(schema);
  return compiled;
}

/** "/peers/1/price" → "peers[1].price". */
function fieldOf(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (extra) parts.push(extra);
  if (!parts.length) return '(top level)';
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function describe(where: string, e: ErrorObject): ConfigError {
  const params = e.params as { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] };
  if (e.keyword === 'required') { const f = fieldOf(e.instancePath, params.missingProperty); return new ConfigError(f, `${where}: ${f} is required`); }
  if (e.keyword === 'additionalProperties') { const f = fieldOf(e.instancePath, params.additionalProperty); return new ConfigError(f, `${where}: ${f} is not a known setting`); }
  const f = fieldOf(e.instancePath);
  if (e.keyword === 'enum') return new ConfigError(f, `${where}: ${f} must be one of ${(params.allowedValues ?? []).map(String).join(', ')}`);
  if (e.keyword === 'pattern' && /listen|address/.test(f)) return new ConfigError(f, `${where}: ${f} must be HOST:PORT`);
  if (e.keyword === 'pattern') return new ConfigError(f, `${where}: ${f} must be an http(s) URL`);
  return new ConfigError(f, `${where}: ${f} ${e.message ?? 'is invalid'}`);
}

/** Validates a parsed config; `where` names it in errors. */
export function validateDaemonConfig(raw: unknown, where = 'config'): DaemonConfig {
  const v = validator();
  if (!v(raw)) throw describe(where, (v.errors ?? [])[0]!);
  const c = raw as DaemonConfig;
  const names = new Set<string>();
  (c.peers ?? []).forEach((p, i) => {
    if (names.has(p.name)) throw new ConfigError(`peers[${i}].name`, `${where}: peers[${i}].name "${p.name}" is used twice`);
    names.add(p.name);
  });
  // A '/' would let one host's keys fall under another's prefix in etcd.
  if (c.etcd?.name?.includes('/')) throw new ConfigError('etcd.name', `${where}: etcd.name must not contain "/"`);
  const pol = c.policy ?? {};
  if (pol.returnBelow !== undefined && pol.riskThreshold !== undefined && pol.returnBelow > pol.riskThreshold) {
    throw new ConfigError('policy.returnBelow', `${where}: policy.returnBelow must not exceed policy.riskThreshold`);
  }
  return c;
}

export function parseDaemonConfig(text: string, file = 'config'): unknown {
  const yamlish = /\.ya?ml$/i.test(file);
  if (!yamlish) {
    try { return JSON.parse(text); } catch (err) {
      if (/\.json$/i.test(file)) throw new ConfigError('(file)', `${file}: not valid JSON: ${messageOf(err)}`);
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const YAML = require('yaml') as typeof import('yaml');
  try { return YAML.parse(text); } catch (err) {
    throw new ConfigError('(file)', `${file}: not valid YAML or JSON: ${messageOf(err).split('\n')[0]}`);
  }
}

export function loadDaemonConfig(file: string): DaemonConfig {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (err) {
    throw new RunxError('ENOTFOUND', `cannot read config ${file}: ${messageOf(err)}`);
  }
  return validateDaemonConfig(parseDaemonConfig(text, file), file);
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}
