// `runx serve`: the migration service (docs/protocol/migration.proto) on a TCP address,
// authenticated by mutual TLS and/or a bearer token, receiving containers into --root.
import type * as grpc from '@grpc/grpc-js';
import { RunxError, messageOf } from '../errors';
import { log } from '../log';
import type { RuntimeOptions } from '../xcontainer';
import { type AuthOptions, authorized, serverCredentials } from './auth';
import { Destination } from './destination';
import { advertisedHost, localAddressInterceptor } from './local-address';
import { type AbortRequest, type AttachIn, type AttachOut, CHANNEL_OPTIONS, type FinishRequest, type PingRequest, type PrepareRequest, migrationPackage } from './proto';

export interface ServeOptions extends AuthOptions {
  listen: string;
  /** Abort an incoming migration whose source has not pinged for this long (default 60 s). */
  sourceTimeoutMs?: number;
  /** --volume-root: where incoming containers' bind sources keep their own paths (wire-shares.ts). */
  volumeRoots?: string[];
}

export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  if (!m) throw new RunxError('EUSAGE', `address "${s}" is not HOST:PORT`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

function toStatus(grpcNs: typeof grpc, err: unknown): grpc.ServiceError {
  const code = err instanceof RunxError && (err.code === 'ECONFIG' || err.code === 'EUSAGE') ? grpcNs.status.FAILED_PRECONDITION
    : err instanceof RunxError && err.code === 'ENOTFOUND' ? grpcNs.status.NOT_FOUND : grpcNs.status.INTERNAL;
  return Object.assign(new Error(messageOf(err)), { code, details: messageOf(err), metadata: new grpcNs.Metadata() }) as grpc.ServiceError;
}

/** Starts the service; resolves with a stop function once it listens. */
export async function serveMigration(opts: ServeOptions, runtime: RuntimeOptions): Promise<{ port: number; stop(): Promise<void> }> {
  const { grpc: g, service } = migrationPackage();
  const { host, port } = parseHostPort(opts.listen);
  const { creds, token } = serverCredentials(opts);
  const dest = new Destination(runtime, host, opts.sourceTimeoutMs, token, opts.volumeRoots ?? []);
  const server = new g.Server({ ...CHANNEL_OPTIONS, interceptors: [localAddressInterceptor(g)] });
  const denied = (md: grpc.Metadata) => !authorized(md, token);
  const unauth = () => Object.assign(new Error('unauthenticated: bad or missing token'), { code: g.status.UNAUTHENTICATED }) as grpc.ServiceError;
  const unary = <Req, Res>(fn: (req: Req, md: grpc.Metadata) => Promise<Res>) => (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
    if (denied(call.metadata)) return cb(unauth());
    fn(call.request, call.metadata).then((res) => cb(null, res), (err) => {
      log().warn(`migration service: ${messageOf(err)}`);
      cb(toStatus(g, err));
    });
  };
  server.addService(service, {
    Prepare: unary(async (req: PrepareRequest, md) => dest.prepare(req, advertisedHost(host, md))),
    Ping: unary(async (req: PingRequest) => ({ incoming: req.containerId ? dest.heard(req.containerId) : false })),
    Finish: unary(async (req: FinishRequest) => ({ keeperPid: await dest.finish(req.containerId) })),
    Abort: unary(async (req: AbortRequest) => { await dest.abort(req.containerId, req.reason, req.attempt); return {}; }),
    Attach: (call: grpc.ServerDuplexStream<AttachIn, AttachOut>) => {
      if (denied(call.metadata)) {
        call.destroy(unauth());
        return;
      }
      let link: ReturnType<Destination['attach']> | undefined;
      call.on('data', (m: AttachIn & { what?: string }) => {
        try {
          if ('containerId' in m && m.what === 'containerId') {
            link = dest.attach(m.containerId, {
              output: (o) => call.write(o),
              exit: (status) => { call.write({ exitStatus: status }); call.end(); },
            });
          } else if (link && m.what === 'stdin' && 'stdin' in m) {
            link.stdin(m.stdin);
          } else if (link && m.what === 'signal' && 'signal' in m) {
            link.signal(m.signal).catch((err) => log().warn(`attach: ${messageOf(err)}`));
          }
        } catch (err) {
          call.destroy(toStatus(g, err));
        }
      });
      call.on('error', () => undefined);
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, creds, (err, p) => (err ? reject(new RunxError('EHOST', `cannot listen on ${opts.listen}: ${err.message}`)) : resolve(p)));
  });
  log().info(`migration service listening on ${host}:${bound}`);
  return {
    port: bound,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
