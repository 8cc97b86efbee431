// Checks keeper.sock messages against docs/protocol/keeper.json, the one definition of
// the protocol. The keeper checks every request it receives and the CLI every request
// it sends and reply it receives, so each bats run checks the traffic it makes.
import { readPackageFile } from '../../package-root';
import { KEEPER_OPS, type KeeperOp } from './protocol';

type FieldType = 'uint' | 'string' | 'bool' | 'object' | 'string[]' | 'fields';
interface Shape { fields: Record<string, FieldType>; required: string[] }
type ResultSpec = 'none' | 'object' | 'string[]' | Shape;

export interface KeeperProtocolSpec {
  version: number;
  ops: Record<string, Shape & { result: ResultSpec }>;
  codes: string[];
}

export const KEEPER_PROTOCOL_FILE = 'docs/protocol/keeper.json';

let spec: KeeperProtocolSpec | undefined;
export function keeperProtocolSpec(): KeeperProtocolSpec {
  spec ??= JSON.parse(readPackageFile(KEEPER_PROTOCOL_FILE)) as KeeperProtocolSpec;
  return spec;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An agent field's value (agent-messages.ts FieldValue): a scalar, or a list of strings and numbers. */
function isFieldValue(v: unknown): boolean {
  const scalar = (x: unknown) => typeof x === 'string' || typeof x === 'number';
  return scalar(v) || typeof v === 'boolean' || (Array.isArray(v) && v.every(scalar));
}

function typeProblem(where: string, type: FieldType, v: unknown): string | undefined {
  const ok = type === 'uint' ? Number.isInteger(v) && (v as number) >= 0
    : type === 'string' ? typeof v === 'string'
      : type === 'bool' ? typeof v === 'boolean'
        : type === 'object' ? isObject(v)
          : type === 'string[]' ? Array.isArray(v) && v.every((e) => typeof e === 'string')
            : Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && isFieldValue(e[1]));
  return ok ? undefined : `${where} is not ${type === 'fields' ? 'a list of [key, value] pairs' : `a ${type}`}`;
}

function shapeProblems(where: string, shape: Shape, v: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, type] of Object.entries(shape.fields)) {
    if (v[key] === undefined) continue;
    const p = typeProblem(`${where}.${key}`, type, v[key]);
    if (p) problems.push(p);
  }
  for (const key of shape.required) if (v[key] === undefined) problems.push(`${where}.${key} is required`);
  return problems;
}

/** The problems with a request line's value; empty when it conforms. Unknown fields are allowed. */
export function checkKeeperRequest(req: unknown): string[] {
  if (!isObject(req)) return ['a request is a JSON object'];
  const def = typeof req.op === 'string' ? keeperProtocolSpec().ops[req.op] : undefined;
  if (!def) return [`unknown op ${JSON.stringify(req.op)}`];
  const problems = shapeProblems(String(req.op), def, req);
  if (!Number.isInteger(req.protocol)) problems.push(`${String(req.op)}.protocol is required`);
  return problems;
}

/** The problems with the reply to `op`; empty when it conforms. */
export function checkKeeperReply(op: KeeperOp, reply: unknown): string[] {
  if (!isObject(reply) || typeof reply.ok !== 'boolean') return [`the reply to ${op} is not {"ok": ...}`];
  const problems: string[] = [];
  if (!Number.isInteger(reply.protocol)) problems.push(`the reply to ${op} has no protocol`);
  if (!reply.ok) {
    if (typeof reply.error !== 'string') problems.push(`the refusal of ${op} has no error`);
    if (!keeperProtocolSpec().codes.includes(reply.code as string)) problems.push(`the refusal of ${op} has an unknown code ${JSON.stringify(reply.code)}`);
    return problems;
  }
  const result = keeperProtocolSpec().ops[op]?.result;
  if (result === undefined) return [...problems, `unknown op ${op}`];
  if (result === 'none') {
    if (reply.result !== undefined) problems.push(`the reply to ${op} has a result`);
  } else if (typeof result === 'string') {
    const p = typeProblem(`the result of ${op}`, result, reply.result);
    if (p) problems.push(p);
  } else if (!isObject(reply.result)) {
    problems.push(`the result of ${op} is not an object`);
  } else {
    problems.push(...shapeProblems(`${op} result`, result, reply.result));
  }
  return problems;
}

/** The ops keeper.json defines that protocol.ts does not, and the other way round (for the unit tests). */
export function opsMismatch(): { onlyInSchema: string[]; onlyInTypes: string[] } {
  const schema = Object.keys(keeperProtocolSpec().ops);
  const types: readonly string[] = KEEPER_OPS;
  return { onlyInSchema: schema.filter((o) => !types.includes(o)), onlyInTypes: types.filter((o) => !schema.includes(o)) };
}
