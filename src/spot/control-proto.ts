// Loads docs/protocol/daemon.proto (the one definition of the spot daemon's control
// API) for both the server (control-server.ts) and the client (control-client.ts),
// and types its messages as proto-loader hands them over: field names camelCased,
// enums as their names, 64-bit integers as numbers, Timestamps as {seconds, nanos}.
import type * as grpc from '@grpc/grpc-js';
import { type GrpcService, loadGrpcService } from '../proto-file';

export const CONTROL_PROTO_FILE = 'docs/protocol/daemon.proto';

export type WireProvider = 'PROVIDER_UNSPECIFIED' | 'PROVIDER_NONE' | 'PROVIDER_AWS' | 'PROVIDER_GCP' | 'PROVIDER_AZURE';
export type WireMarket = 'MARKET_UNSPECIFIED' | 'MARKET_SPOT' | 'MARKET_ON_DEMAND';
export type WirePath = 'PATH_UNSPECIFIED' | 'PATH_LIVE' | 'PATH_CHECKPOINT_TO_PEER' | 'PATH_FAILED' | 'PATH_UNPLACED';
export interface Timestamp { seconds: number; nanos: number }

export type StatusRequest = Record<string, never>;
export interface StatusReply {
  provider: WireProvider;
  market: WireMarket;
  price: number;
  placement: WireMarket;
  risk?: number;
  evacuating: boolean;
  evacuations: number;
  lastEvacuation?: EvacuationReport | null;
  reservations: Reservation[];
  reservedBytes: number;
  registration?: { name: string; lease: string; error: string } | null;
}
export interface Reservation { containerId: string; peer: string; memoryMib: number; bytes: number; since: Timestamp | null }
export type ListContainersRequest = Record<string, never>;
export interface Container { id: string; memoryMib: number; dirtyRateMibps: number; diskMib: number; priority: number }
export interface ListContainersReply { containers: Container[] }
/** EvacuateRequest, DrainRequest and PlanRequest have the same fields. */
export interface DeadlineRequest { deadlineSeconds?: number; containerIds?: string[] }
export interface PlanStep {
  containerId: string;
  peer: string;
  mode: WirePath;
  startMs: number;
  endMs: number;
  bandwidthMibps: number;
  slot: number;
  fits: boolean;
  reason: string;
}
export interface EvacuationPlan {
  deadline: Timestamp | null;
  steps: PlanStep[];
  unplaced: Array<{ containerId: string; reason: string }>;
  budgetMs: number;
  totalMs: number;
  allFit: boolean;
}
export interface ContainerOutcome {
  containerId: string;
  path: WirePath;
  peer: string;
  planned: WirePath;
  startedAt: Timestamp | null;
  finishedAt: Timestamp | null;
  withinDeadline: boolean;
  errors: string[];
  bytes?: number;
  downtimeMs?: number;
}
export interface EvacuationReport {
  reason: string;
  deadline: Timestamp | null;
  startedAt: Timestamp | null;
  finishedAt: Timestamp | null;
  outcomes: ContainerOutcome[];
}

/** Every rpc of the service with its request and reply types; server and client are typed from this. */
export interface ControlRpcs {
  Status: [StatusRequest, StatusReply];
  ListContainers: [ListContainersRequest, ListContainersReply];
  Evacuate: [DeadlineRequest, EvacuationReport];
  Drain: [DeadlineRequest, EvacuationReport];
  Plan: [DeadlineRequest, EvacuationPlan];
}
export type RpcName = keyof ControlRpcs;

type UnaryMethod<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall;
export type SpotDaemonClient = grpc.Client & { [K in RpcName]: UnaryMethod<ControlRpcs[K][0], ControlRpcs[K][1]> };

export type ControlPackage = GrpcService<SpotDaemonClient>;

let loaded: ControlPackage | undefined;

/** Loads grpc-js and the proto on first use (the daemon's other paths do not need them). */
export function controlPackage(): ControlPackage {
  loaded ??= loadGrpcService<SpotDaemonClient>(CONTROL_PROTO_FILE, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true }, ['runx', 'spot', 'v1', 'SpotDaemon']);
  return loaded;
}

/** Requests are a deadline and a few ids: anything bigger is not a client of ours. */
export const CONTROL_CHANNEL_OPTIONS = { 'grpc.max_receive_message_length': 1024 * 1024 };
