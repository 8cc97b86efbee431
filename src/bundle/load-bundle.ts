// Reads a bundle directory: its config.json, validated, and the resolved rootfs path.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, RunxError, messageOf } from '../errors';
import type { SpecConfig } from './spec-types';
import { validateConfig } from './validate-config';

export interface Bundle {
  /** Absolute bundle directory. */
  dir: string;
  config: SpecConfig;
  /** Absolute path of root.path. */
  rootfs: string;
  /** The config.json text as read, so a later step never re-reads a changed file. */
  configText: string;
}

export function loadBundle(bundleDir: string): Bundle {
  const dir = path.resolve(bundleDir);
  const configPath = path.join(dir, 'config.json');
  let configText: string;
  try {
    configText = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    throw new RunxError('ECONFIG', `cannot read ${configPath}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(configText);
  } catch (err) {
    throw new ConfigError('config.json', `config.json: malformed JSON: ${messageOf(err)}`, { cause: err });
  }
  const config = validateConfig(raw);
  const rootfs = path.resolve(dir, config.root!.path);
  let st: fs.Stats;
  try {
    st = fs.statSync(rootfs);
  } catch {
    throw new ConfigError('root.path', `config.json: root.path "${config.root!.path}" does not exist (${rootfs})`);
  }
  if (!st.isDirectory()) throw new ConfigError('root.path', `config.json: root.path "${config.root!.path}" is not a directory`);
  return { dir, config, rootfs, configText };
}
