// Loads a .proto shipped with runx (docs/protocol/) for grpc-js from its text, so the
// checkout and the one-file binary, which has no file to hand proto-loader's loadSync,
// read the protocol the same way.
import type * as grpc from '@grpc/grpc-js';
import type { Options, PackageDefinition } from '@grpc/proto-loader';
import { readPackageFile } from './package-root';

/** grpc-js, one service of a loaded .proto, and its client class. */
export interface GrpcService<C extends grpc.Client> {
  grpc: typeof grpc;
  service: grpc.ServiceDefinition;
  Client: new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => C;
}

function loadPackageProto(relativePath: string, options: Options): PackageDefinition {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const protobuf = require('protobufjs') as typeof import('protobufjs');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  const root = new protobuf.Root();
  const parsed = protobuf.parse(readPackageFile(relativePath), root, { keepCase: options.keepCase ?? false });
  // Only Google's well-known types are imported, and protobufjs carries those.
  for (const name of parsed.imports ?? []) {
    const common = protobuf.common.get(name);
    if (!common) throw new Error(`${relativePath} imports ${name}, which runx does not ship`);
    root.addJSON(common.nested ?? {});
  }
  return protoLoader.fromJSON(root.toJSON(), options);
}

/**
 * Loads grpc-js and the service at `servicePath` (package names, then the service) of a
 * shipped .proto; C types the client's methods, which proto-loader cannot.
 */
export function loadGrpcService<C extends grpc.Client>(relativePath: string, options: Options, servicePath: string[]): GrpcService<C> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const grpcJs = require('@grpc/grpc-js') as typeof grpc;
  let node: unknown = grpcJs.loadPackageDefinition(loadPackageProto(relativePath, options));
  for (const name of servicePath) node = (node as Record<string, unknown> | undefined)?.[name];
  if (typeof node !== 'function') throw new Error(`${relativePath} has no service ${servicePath.join('.')}`);
  const ctor = node as grpc.ServiceClientConstructor;
  return { grpc: grpcJs, service: ctor.service, Client: ctor as unknown as GrpcService<C>['Client'] };
}
