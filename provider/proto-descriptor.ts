import { join } from 'node:path';
import { Root, type INamespace } from 'protobufjs';

/** The .proto files the provider serves: tfplugin6, go-plugin's own services, and gRPC health. */
export const PROTO_FILES = ['tfplugin6.proto', 'go-plugin.proto', 'health.proto'];

/**
 * Our .proto files parsed into protobufjs's JSON descriptor, field names kept as written. Running from source this
 * parses them each time; the installed provider's bundle carries the result instead (see install.ts), so a
 * provider start parses no .proto text and loads no parser.
 */
export function protoDescriptor(): INamespace {
  const root = new Root();
  root.loadSync(
    PROTO_FILES.map((f) => join(__dirname, 'proto', f)),
    { keepCase: true },
  );
  return root.toJSON();
}
