import type * as grpc from '@grpc/grpc-js';
import { Root, Service, type INamespace, type Type } from 'protobufjs/light';

/** How messages look to our handlers: proto field names, numbers for 64-bit and enum fields, Buffers for bytes. */
const CONVERSION = { longs: Number, enums: Number, bytes: Buffer, defaults: true, oneofs: true } as const;

const serializer = (type: Type) => (value: object) => Buffer.from(type.encode(type.fromObject(value)).finish());
const deserializer = (type: Type) => (bytes: Buffer) => type.toObject(type.decode(bytes), CONVERSION);

/**
 * gRPC service definitions built straight from a protobufjs JSON descriptor: what @grpc/proto-loader makes, without
 * the reflection descriptors it also builds (which cost start-up time and serve nothing here).
 */
export function grpcServices(descriptor: INamespace): (fullName: string) => grpc.ServiceDefinition {
  const root = Root.fromJSON(descriptor); // resolves every type once
  return (fullName) => {
    const service = root.lookup(fullName);
    if (!(service instanceof Service)) throw new Error(`no gRPC service ${fullName} in the descriptor`);
    const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
    for (const method of service.methodsArray) {
      const request = method.resolvedRequestType!;
      const response = method.resolvedResponseType!;
      definition[method.name] = {
        path: `/${fullName}/${method.name}`,
        requestStream: !!method.requestStream,
        responseStream: !!method.responseStream,
        requestSerialize: serializer(request),
        requestDeserialize: deserializer(request),
        responseSerialize: serializer(response),
        responseDeserialize: deserializer(response),
      };
    }
    return definition;
  };
}
