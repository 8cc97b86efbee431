// The keeper's side of keeper.sock: reads one request line per connection, checks its
// protocol version and its shape against keeper.json, asks the state machine whether
// the keeper's phase serves it, runs its handler, and writes one reply carrying a
// RunxError code. exec connections go on to carry the process's stdio (keeper-exec.ts).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RunxError, messageOf } from '../../errors';
import { socketPath } from '../state/socket-path';
import { checkKeeperRequest } from './keeper-schema';
import { OP_HANDLERS } from './ops';
import type { HandledOp, KeeperCore, OpHandler } from './ops/keeper-core';
import { KEEPER_PROTOCOL, type KeeperProgress, type KeeperRefusal, type KeeperReply, type KeeperRequest, protocolMismatch } from './protocol';

export function refusal(code: KeeperRefusal['code'], error: string): KeeperRefusal {
  return { ok: false, protocol: KEEPER_PROTOCOL, code, error };
}

/** The request a line holds, or the refusal of it: another protocol, or not what keeper.json allows. */
export function parseRequest(line: string): KeeperRequest | KeeperRefusal {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return refusal('EUSAGE', 'malformed keeper request (not JSON)');
  }
  const protocol = (raw as { protocol?: unknown } | null)?.protocol;
  if (protocol !== KEEPER_PROTOCOL) return refusal('EPROTO', protocolMismatch(KEEPER_PROTOCOL, typeof protocol === 'number' ? protocol : undefined));
  const problems = checkKeeperRequest(raw);
  if (problems.length) return refusal('EUSAGE', `malformed keeper request: ${problems.join('; ')}`);
  return raw as KeeperRequest;
}

/** A migration whose CLI went away before it sent the VM is over: nobody will send or abort it. */
function lapseOrphanedMigration(core: KeeperCore): void {
  const f = core.machine.facts;
  if (f.phase === 'sending' && !f.transferring && f.owner && !core.ownerAlive(f.owner)) core.machine.apply({ kind: 'migration-aborted' });
}

/** Admits `req` by the state table: undefined if its phase serves it, else the refusal. */
export function admitRequest(core: KeeperCore, req: KeeperRequest): KeeperRefusal | undefined {
  lapseOrphanedMigration(core);
  const verdict = core.machine.admit(req.op);
  return verdict === 'serve' ? undefined : refusal(verdict.code, verdict.message);
}

/** Serves one request (not exec) and returns its reply; never throws. */
export async function dispatch(core: KeeperCore, req: KeeperRequest, progress: (p: unknown) => void): Promise<KeeperReply> {
  if (req.op === 'exec') return refusal('EINTERNAL', 'exec is served on its own connection');
  const refused = admitRequest(core, req);
  if (refused) return refused;
  try {
    const handler = OP_HANDLERS[req.op] as OpHandler<HandledOp>;
    const result: unknown = await handler(core, req as KeeperRequest<HandledOp>, progress);
    return result === undefined ? { ok: true, protocol: KEEPER_PROTOCOL } : { ok: true, protocol: KEEPER_PROTOCOL, result } as KeeperReply;
  } catch (err) {
    // Host-side failures that are not runx's own (fs, child processes) are the host's.
    return refusal(err instanceof RunxError ? err.code : 'EHOST', messageOf(err));
  }
}

export type ExecServer = (sock: net.Socket, req: KeeperRequest<'exec'>, rest: Buffer) => void;

/** Listens on `file` (a keeper.sock path): one request line per connection, one reply. */
export function serveControl(file: string, core: KeeperCore, serveExec: ExecServer): Promise<net.Server> {
  fs.rmSync(file, { force: true });
  const server = net.createServer((sock) => {
    const progress = (p: unknown) => {
      const line: KeeperProgress = { progress: p };
      if (!sock.destroyed) sock.write(`${JSON.stringify(line)}\n`);
    };
    sock.on('error', () => { /* the client went away */ });
    // One request line; for exec, what follows it is the process's stdio stream.
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) return;
      sock.off('data', onData);
      const req = parseRequest(head.subarray(0, nl).toString('utf8'));
      const reply = (r: KeeperReply) => void sock.end(`${JSON.stringify(r)}\n`);
      if ('ok' in req) return reply(req);
      if (req.op === 'exec') {
        const refused = admitRequest(core, req);
        if (refused) return reply(refused);
        return serveExec(sock, req, head.subarray(nl + 1));
      }
      void dispatch(core, req, progress).then(reply);
    };
    sock.on('data', onData);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new RunxError('ESTATE', `cannot serve ${path.basename(file)}: ${messageOf(err)}${fs.existsSync(path.dirname(file)) ? '' : ' (the state directory was removed)'}`)));
    server.listen(socketPath(file), () => {
      server.on('error', () => { /* a client's trouble, not the server's */ });
      resolve(server);
    });
  });
}
