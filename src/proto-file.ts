// Loads a .proto shipped with runx (docs/protocol/) for grpc-js from its text, so the
// checkout and the one-file binary, which has no file to hand proto-loader's loadSync,
// read the protocol the same way.
import type { Options, PackageDefinition } from '@grpc/proto-loader';
import { readPackageFile } from './package-root';

export function loadPackageProto(relativePath: string, options: Options): PackageDefinition {
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
