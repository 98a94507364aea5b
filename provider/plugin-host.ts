import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePluginCertificate } from './certificate';

/** go-plugin's handshake cookie for Terraform providers. */
const MAGIC_COOKIE_KEY = 'TF_PLUGIN_MAGIC_COOKIE';
const MAGIC_COOKIE_VALUE = 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2';
const PROTOCOL_VERSION = 6;

export const PROTO_DIR = process.env.PORTICO_PROVIDER_PROTO_DIR ?? join(__dirname, 'proto');

/** Loads one of our .proto files as a gRPC package definition. */
export function loadProto(file: string): grpc.GrpcObject {
  const def = protoLoader.loadSync(join(PROTO_DIR, file), {
    keepCase: true,
    longs: Number,
    enums: Number,
    defaults: true,
    oneofs: true,
    bytes: Buffer,
  });
  return grpc.loadPackageDefinition(def);
}

type Impl = grpc.UntypedServiceImplementation;

/**
 * Serves `provider` the way Terraform's go-plugin client expects: a unix socket, TLS with AutoMTLS when the client sent
 * its certificate, the health/controller/stdio services beside the provider, and one handshake line on stdout.
 */
export async function servePlugin(
  provider: { service: grpc.ServiceDefinition; implementation: Impl },
  onStop: () => void = () => {},
): Promise<void> {
  if (process.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    process.stderr.write(
      'This is a Terraform provider plugin: Terraform runs it. Install it with `npx portico provider install`.\n',
    );
    process.exit(1);
  }
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
  });
  server.addService(provider.service, provider.implementation);

  const health = loadProto('health.proto') as any;
  server.addService(health.grpc.health.v1.Health.service, {
    Check: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: 1 }),
  });
  const plugin = loadProto('go-plugin.proto') as any;
  const socket = join(tmpdir(), `plugin${randomBytes(6).toString('hex')}`);
  const exit = () => {
    onStop();
    rmSync(socket, { force: true });
    process.exit(0);
  };
  server.addService(plugin.plugin.GRPCController.service, {
    Shutdown: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      cb(null, {});
      setImmediate(exit);
    },
  });
  // We never write to stdout after the handshake, so the stdio stream stays open and empty until shutdown.
  server.addService(plugin.plugin.GRPCStdio.service, { StreamStdio: () => {} });
  server.addService(plugin.plugin.GRPCBroker.service, { StartStream: () => {} });

  let credentials = grpc.ServerCredentials.createInsecure();
  let cert = '';
  const clientCert = process.env.PLUGIN_CLIENT_CERT;
  if (clientCert) {
    const own = await makePluginCertificate();
    credentials = grpc.ServerCredentials.createSsl(
      Buffer.from(clientCert),
      [{ private_key: Buffer.from(own.keyPem), cert_chain: Buffer.from(own.certPem) }],
      true,
    );
    cert = own.derBase64;
  }
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, credentials, (err) => (err ? reject(err) : resolve())),
  );
  process.stdout.write(`1|${PROTOCOL_VERSION}|unix|${socket}|grpc|${cert}\n`);
  process.once('SIGINT', () => {}); // Terraform forwards Ctrl-C; it stops us through StopProvider and Shutdown
  process.once('SIGTERM', exit);
}
