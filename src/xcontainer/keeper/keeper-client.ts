// The CLI's side of keeper.sock: one JSON request, zero or more progress lines, one
// JSON reply. Typed per operation (protocol.ts): `callKeeper('kill', {signal, all})`
// takes the op's fields and returns its result, and a refusal is thrown as a RunxError
// with the code the keeper gave. Both the request and the reply are checked against
// docs/protocol/keeper.json, and a keeper of another protocol is a one-line error.
import net from 'node:net';
import { RunxError } from '../../errors';
import { JsonLineReader } from '../wire/json-lines';
import { socketPath as shortPath } from '../state/socket-path';
import { checkKeeperReply, checkKeeperRequest } from './keeper-schema';
import { KEEPER_PROTOCOL, type KeeperOp, isKeeperProgress, type KeeperParams, type KeeperReply, type KeeperResult, protocolMismatch } from './protocol';

export interface KeeperCallOptions {
  timeoutMs?: number;
  onProgress?: (p: unknown) => void;
}

/** A request as a caller writes it: the op and its fields; the protocol is added here. */
export type KeeperCall<K extends KeeperOp = KeeperOp> = { [P in K]: { op: P } & KeeperParams<P> }[K];

/**
 * The keeper could not be reached, or went away without answering: it has ended (or
 * died), which the caller can tell apart from a refusal and look into.
 */
export class KeeperGoneError extends RunxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESTATE', message, options);
  }
}

/**
 * Sends one request and resolves with the keeper's reply, refusals included. Rejects
 * (ESTATE) when the keeper cannot be reached or does not answer, and (EPROTO) when it
 * speaks another protocol.
 */
export function askKeeper<K extends KeeperOp>(socketPath: string, call: KeeperCall<K>, timeoutMs = 30_000, onProgress?: (p: unknown) => void): Promise<KeeperReply<K>> {
  const op = call.op;
  const req = { ...call, protocol: KEEPER_PROTOCOL };
  const problems = checkKeeperRequest(req);
  if (problems.length) return Promise.reject(new RunxError('EINTERNAL', `keeper request violates docs/protocol/keeper.json: ${problems.join('; ')}`));
  return new Promise((resolve, reject) => {
    const sock = net.connect(shortPath(socketPath));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new RunxError('ESTATE', `the container's keeper did not answer "${op}" within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const onReply = (v: unknown) => {
      const protocol = (v as { protocol?: unknown } | null)?.protocol;
      // A keeper from before versioning sends none: protocol 0.
      if (protocol !== KEEPER_PROTOCOL) {
        return finish(() => reject(new RunxError('EPROTO', protocolMismatch(typeof protocol === 'number' ? protocol : undefined, KEEPER_PROTOCOL))));
      }
      const bad = checkKeeperReply(op, v);
      if (bad.length) return finish(() => reject(new RunxError('EINTERNAL', `the keeper's reply to ${op} violates docs/protocol/keeper.json: ${bad.join('; ')}`)));
      finish(() => resolve(v as KeeperReply<K>));
    };
    const reader = new JsonLineReader((v) => {
      if (isKeeperProgress(v)) onProgress?.(v.progress);
      else onReply(v);
    }, () => undefined);
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d) => reader.push(d));
    sock.on('error', (err) => finish(() => reject(new KeeperGoneError(`cannot reach the container's keeper: ${err.message}`, { cause: err }))));
    sock.on('close', () => finish(() => reject(new KeeperGoneError('the container\'s keeper closed the connection without answering'))));
  });
}

/** Sends `op` with its fields and resolves with its result; a refusal rejects with the keeper's code and message. */
export async function callKeeper<K extends KeeperOp>(socketPath: string, op: K, params: KeeperParams<K>, opts: KeeperCallOptions = {}): Promise<KeeperResult<K>> {
  const reply = await askKeeper(socketPath, { op, ...params } as KeeperCall<K>, opts.timeoutMs, opts.onProgress);
  if (!reply.ok) throw new RunxError(reply.code, reply.error);
  return reply.result as KeeperResult<K>;
}
