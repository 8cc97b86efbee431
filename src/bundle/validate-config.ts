// Validates a parsed config.json: first against the runtime-spec JSON schema (Ajv,
// draft-04, the schema shipped in schema/runtime-spec), then the rules the schema
// cannot express and runx relies on. Every failure is a ConfigError naming the field.
import fs from 'node:fs';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ConfigError } from '../errors';
import { packageRoot } from '../package-root';
import type { SpecConfig } from './spec-types';
import { RLIMIT_NAMES } from './rlimits';
import { validateCapabilities } from './capabilities';
import { validateNamespacePaths } from './namespaces';
import { validateProcessSize } from './process-size';

const SCHEMA_DIR = path.join(packageRoot, 'schema', 'runtime-spec');
const SUPPORTED_MAJOR = 1;
const NAMESPACE_TYPES = new Set(['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time']);

let compiled: ValidateFunction | undefined;

/**
 * Compiles config-schema.json with Ajv (draft-04). The build compiles it once with
 * `code.source` on (scripts/gen-config-validator.js writes that out as standalone
 * code); this is the fallback when that file is missing.
 */
export function compileConfigSchema(source: boolean): { ajv: import('ajv').default; validate: ValidateFunction } {
  // Loaded lazily: Ajv and the schema cost start-up time that only create/run need.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Ajv = require('ajv-draft-04') as typeof import('ajv-draft-04').default;
  const ajv = new Ajv({ allErrors: false, strict: false, logger: false, code: { source } });
  for (const file of fs.readdirSync(SCHEMA_DIR)) {
    if (!file.endsWith('.json') || file === 'config-schema.json') continue;
    ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, file), 'utf8')), file);
  }
  const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, 'config-schema.json'), 'utf8')));
  return { ajv: ajv as unknown as import('ajv').default, validate };
}

function schemaValidator(): ValidateFunction {
  if (compiled) return compiled;
  try {
    // Precompiled at build time by scripts/gen-config-validator.js.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    compiled = require('./config-schema-validator') as ValidateFunction;
    return compiled;
  } catch { /* not built (e.g. under vitest): compile now */ }
  compiled = compileConfigSchema(false).validate;
  return compiled;
}

/** "/process/args/0" → "process.args[0]"; the root → "config.json". */
export function fieldOf(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (missing) parts.push(missing);
  if (parts.length === 0) return 'config.json';
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : (i === 0 ? p : `.${p}`))).join('');
}

function describe(err: ErrorObject): ConfigError {
  const missing = err.keyword === 'required' ? String((err.params as { missingProperty?: string }).missingProperty) : undefined;
  const field = fieldOf(err.instancePath, missing);
  const what = missing ? 'is required' : (err.message ?? 'is invalid');
  return new ConfigError(field, `config.json: ${field} ${what}`);
}

/** Throws ConfigError on the first problem; returns the config typed on success. */
export function validateConfig(raw: unknown): SpecConfig {
  const validate = schemaValidator();
  if (!validate(raw)) throw describe((validate.errors ?? [])[0]!);
  const config = raw as SpecConfig;

  const major = Number(/^(\d+)\./.exec(config.ociVersion)?.[1] ?? NaN);
  if (major !== SUPPORTED_MAJOR) {
    throw new ConfigError('ociVersion', `config.json: ociVersion "${config.ociVersion}" is not supported (runx supports ${SUPPORTED_MAJOR}.x)`);
  }
  if (!config.process) throw new ConfigError('process', 'config.json: process is required');
  if (!config.process.args || config.process.args.length === 0) {
    throw new ConfigError('process.args', 'config.json: process.args is required and must not be empty');
  }
  validateProcessSize(config.process);
  if (!path.isAbsolute(config.process.cwd)) {
    throw new ConfigError('process.cwd', `config.json: process.cwd "${config.process.cwd}" must be an absolute path`);
  }
  if (!config.root?.path) throw new ConfigError('root.path', 'config.json: root.path is required');
  for (const [i, rl] of (config.process.rlimits ?? []).entries()) {
    if (!RLIMIT_NAMES.has(rl.type)) {
      throw new ConfigError(`process.rlimits[${i}].type`, `config.json: process.rlimits[${i}].type "${rl.type}" is not a known rlimit`);
    }
  }
  for (const [i, m] of (config.mounts ?? []).entries()) {
    if (!path.isAbsolute(m.destination)) {
      throw new ConfigError(`mounts[${i}].destination`, `config.json: mounts[${i}].destination "${m.destination}" must be an absolute path`);
    }
  }
  for (const [i, ns] of (config.linux?.namespaces ?? []).entries()) {
    if (!NAMESPACE_TYPES.has(ns.type)) {
      throw new ConfigError(`linux.namespaces[${i}].type`, `config.json: linux.namespaces[${i}].type "${ns.type}" is not a namespace type`);
    }
  }
  validateCapabilities(config.process.capabilities);
  validateNamespacePaths(config.linux?.namespaces ?? []);
  for (const [i, d] of (config.linux?.devices ?? []).entries()) {
    if (!path.isAbsolute(d.path)) {
      throw new ConfigError(`linux.devices[${i}].path`, `config.json: linux.devices[${i}].path "${d.path}" must be an absolute path`);
    }
    if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) {
      throw new ConfigError(`linux.devices[${i}]`, `config.json: linux.devices[${i}]: major and minor are required for type "${d.type}"`);
    }
  }
  for (const key of Object.keys(config.linux?.sysctl ?? {})) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.\/-]*$/.test(key) || key.includes('..')) {
      throw new ConfigError('linux.sysctl', `config.json: linux.sysctl: bad key "${key}"`);
    }
  }
  return config;
}
