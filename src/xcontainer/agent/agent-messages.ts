// Control messages of the agent protocol: a name then key=value fields, each string
// NUL-terminated (docs/protocol/agent.md). Repeated keys keep their order.

export interface ControlMessage {
  name: string;
  fields: Array<[string, string]>;
}

import type { FieldValue } from '../../bundle/guest-field';

export type { FieldValue };

/** Builds a message; arrays become repeated keys, booleans 0/1, undefined is left out. */
export function controlMessage(name: string, fields: Record<string, FieldValue | undefined> | Array<[string, FieldValue]>): ControlMessage {
  const out: Array<[string, string]> = [];
  const entries = Array.isArray(fields) ? fields : Object.entries(fields);
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push([key, String(v)]);
    else if (typeof value === 'boolean') out.push([key, value ? '1' : '0']);
    else out.push([key, String(value)]);
  }
  return { name, fields: out };
}

export function encodeControl(msg: ControlMessage): Buffer {
  const parts = [msg.name, ...msg.fields.map(([k, v]) => `${k}=${v}`)];
  for (const p of parts) if (p.includes('\0')) throw new RangeError(`control field contains NUL: ${JSON.stringify(p)}`);
  return Buffer.from(parts.map((p) => `${p}\0`).join(''), 'utf8');
}

export function decodeControl(payload: Buffer): ControlMessage {
  const text = payload.toString('utf8');
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  const [name = '', ...rest] = parts;
  const fields: Array<[string, string]> = rest.map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
  });
  return { name, fields };
}

export function field(msg: ControlMessage, key: string): string | undefined {
  return msg.fields.find(([k]) => k === key)?.[1];
}
