// Loads docs/protocol/migration.proto (the one definition of the migration protocol)
// and types its messages for TypeScript. Field names are the proto's, camelCased by
// proto-loader.
import type * as grpc from '@grpc/grpc-js';
import { type GrpcService, loadGrpcService } from '../proto-file';

// 2: the carry disk (carry_bytes, carried_kinds, a second mirror) and the stand-in's own
// link (link_port). A version-1 peer would take a VM without its volume or its output
// path, so the versions refuse each other at Prepare, before anything moves.
export const MIGRATION_PROTOCOL_VERSION = 2;
export const PROTO_FILE = 'docs/protocol/migration.proto';

export interface PrepareRequest {
  protocolVersion: number;
  containerId: string;
  qemuBuild: string;
  accel: string;
  cpu: string;
  memoryMib: number;
  vcpus: number;
  diskBytes: number | string;
  configJson: string;
  kernel: Buffer;
  initramfs: Buffer;
  sharePaths: string[];
  bundle: string;
  nic?: GuestNic | null;
  netnsPath: string;
  instance: string;
  attempt: string;
  streamNonce: Buffer;
  /** Absent from an older source: 0. */
  carryBytes?: number | string;
  carriedKinds?: string[];
  /** The VM's guest agent protocol; absent from an older source: 0. */
  agentProtocol?: number;
}
export interface GuestNic { mac: string; cidr: string; gateway: string; mtu: number; netnsPath: string }
export interface PrepareReply { host: string; nbdPort: number; migratePort: number; linkPort?: number; returning: boolean; netnsPath: string; streamIdentity: string; streamSecret: Buffer }
export interface FinishRequest { containerId: string }
export interface FinishReply { keeperPid: number }
export interface AbortRequest { containerId: string; reason: string; attempt?: string }
export interface PingRequest { containerId: string }
export interface PingReply { incoming: boolean }
export type AttachIn = { containerId: string } | { stdin: Buffer } | { signal: number };
export interface AttachOut { stdout?: Buffer; stderr?: Buffer; exitStatus?: number; what?: string }

export interface MigrationClient extends grpc.Client {
  Prepare(req: PrepareRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: PrepareReply) => void): grpc.ClientUnaryCall;
  Finish(req: FinishRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: FinishReply) => void): grpc.ClientUnaryCall;
  Abort(req: AbortRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null) => void): grpc.ClientUnaryCall;
  Attach(md: grpc.Metadata): grpc.ClientDuplexStream<AttachIn, AttachOut>;
  Ping(req: PingRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: PingReply) => void): grpc.ClientUnaryCall;
}

export type MigrationPackage = GrpcService<MigrationClient>;

let loaded: MigrationPackage | undefined;

/** Loads grpc-js and the proto on first use (only migration needs them). */
export function migrationPackage(): MigrationPackage {
  loaded ??= loadGrpcService<MigrationClient>(PROTO_FILE, { keepCase: false, longs: Number, defaults: true, oneofs: true }, ['runx', 'migrate', 'v1', 'Migration']);
  return loaded;
}

/** Large enough for the kernel and initramfs in Prepare. */
export const CHANNEL_OPTIONS = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 };
