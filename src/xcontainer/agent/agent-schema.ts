// Checks control messages against docs/protocol/agent.json, the one definition of the
// agent protocol. The keeper checks every message it sends and receives; the unit
// tests check the codec's constants against the same file.
import { readPackageFile } from '../../package-root';
import type { ControlMessage } from './agent-messages';

type FieldType = 'uint' | 'string' | 'bool' | 'uint[]' | 'string[]';

export interface AgentProtocolSpec {
  version: number;
  magic: string;
  headerBytes: number;
  maxPayload: number;
  stdinWindow: number;
  frameTypes: Record<string, number>;
  messages: Record<string, { from: 'host' | 'agent'; reply?: string[]; fields: Record<string, FieldType>; required: string[] }>;
}

export const AGENT_PROTOCOL_FILE = 'docs/protocol/agent.json';

let spec: AgentProtocolSpec | undefined;
export function agentProtocolSpec(): AgentProtocolSpec {
  spec ??= JSON.parse(readPackageFile(AGENT_PROTOCOL_FILE)) as AgentProtocolSpec;
  return spec;
}

/** Returns the problems with `msg` as sent by `from`; empty when it conforms. */
export function checkControlMessage(msg: ControlMessage, from: 'host' | 'agent'): string[] {
  const def = agentProtocolSpec().messages[msg.name];
  if (!def) return [`unknown message "${msg.name}"`];
  const problems: string[] = [];
  if (def.from !== from) problems.push(`"${msg.name}" is sent by the ${def.from}, not the ${from}`);
  const seen = new Map<string, number>();
  for (const [key, value] of msg.fields) {
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const type = def.fields[key];
    if (!type) continue; // unknown keys are allowed (forward compatibility)
    const base = type.replace('[]', '');
    if (base === 'uint' && !/^\d+$/.test(value)) problems.push(`${msg.name}.${key}="${value}" is not a uint`);
    if (base === 'bool' && value !== '0' && value !== '1') problems.push(`${msg.name}.${key}="${value}" is not 0/1`);
    if (!type.endsWith('[]') && (seen.get(key) ?? 0) > 1) problems.push(`${msg.name}.${key} repeats`);
  }
  for (const key of def.required) if (!seen.has(key)) problems.push(`${msg.name}.${key} is required`);
  return problems;
}
