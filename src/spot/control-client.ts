// A client of the spot daemon's control API (docs/protocol/daemon.proto) on its unix
// socket, for tools and tests. Each method is one rpc; a failure rejects with a
// DaemonControlError whose message is the daemon's one line and whose grpcCode is the
// gRPC status, so callers can tell a bad request from an unreachable daemon.
import type * as grpc from '@grpc/grpc-js';
import { RunxError, type RunxErrorCode } from '../errors';
import { socketPath } from '../xcontainer';
import {
  type ControlRpcs, type Container, type DeadlineRequest, type EvacuationPlan, type EvacuationReport, type RpcName,
  type SpotDaemonClient, type StatusReply, controlPackage,
} from './control-proto';

export class DaemonControlError extends RunxError {
  constructor(code: RunxErrorCode, message: string, readonly grpcCode: number, readonly grpcStatus: string) {
    super(code, message);
  }
}

export interface CallOptions {
  /** Give up after this long (an Evacuate with a long deadline can take minutes). */
  timeoutMs?: number;
}

export class DaemonControlClient {
  private readonly client: SpotDaemonClient;

  constructor(readonly socket: string) {
    const { grpc: g, Client } = controlPackage();
    this.client = new Client(`unix:${socketPath(socket)}`, g.credentials.createInsecure());
  }

  status(o?: CallOptions): Promise<StatusReply> { return this.call('Status', {}, o); }
  async listContainers(o?: CallOptions): Promise<Container[]> { return (await this.call('ListContainers', {}, o)).containers; }
  evacuate(req: DeadlineRequest = {}, o?: CallOptions): Promise<EvacuationReport> { return this.call('Evacuate', req, o); }
  drain(req: DeadlineRequest = {}, o?: CallOptions): Promise<EvacuationReport> { return this.call('Drain', req, o); }
  plan(req: DeadlineRequest = {}, o?: CallOptions): Promise<EvacuationPlan> { return this.call('Plan', req, o); }

  close(): void { this.client.close(); }

  private call<K extends RpcName>(rpc: K, req: ControlRpcs[K][0], o: CallOptions = {}): Promise<ControlRpcs[K][1]> {
    const { grpc: g } = controlPackage();
    const method = this.client[rpc] as unknown as (r: ControlRpcs[K][0], md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: ControlRpcs[K][1]) => void) => grpc.ClientUnaryCall;
    const opts: grpc.CallOptions = o.timeoutMs !== undefined ? { deadline: Date.now() + o.timeoutMs } : {};
    return new Promise((resolve, reject) => {
      method.call(this.client, req, new g.Metadata(), opts, (err, res) => {
        if (err) reject(this.error(g, rpc, err));
        else resolve(res!);
      });
    });
  }

  private error(g: typeof grpc, rpc: RpcName, err: grpc.ServiceError): DaemonControlError {
    const name = g.status[err.code] ?? String(err.code);
    const code: RunxErrorCode = err.code === g.status.INVALID_ARGUMENT ? 'EUSAGE'
      : err.code === g.status.NOT_FOUND ? 'ENOTFOUND'
      : err.code === g.status.FAILED_PRECONDITION ? 'ESTATE'
      : err.code === g.status.UNAVAILABLE || err.code === g.status.DEADLINE_EXCEEDED ? 'EHOST' : 'EINTERNAL';
    const message = err.code === g.status.UNAVAILABLE ? `cannot reach the spot daemon at ${this.socket}: ${err.details}` : err.details || `${rpc}: ${name}`;
    return new DaemonControlError(code, message, err.code, name);
  }
}
