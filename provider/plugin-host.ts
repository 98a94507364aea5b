import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePluginCertificate } from './certificate';
import { grpcServices } from './grpc-services';
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from './handshake';
import { protoDescriptor } from './proto-descriptor';

const PROTOCOL_VERSION = 6;

type Impl = grpc.UntypedServiceImplementation;

/**
 * Unary handlers that wait for `load` (started right after the handshake line) and hand each call to the loaded
 * implementation: the provider's schema and operations, with zod and the resource registry, load while Terraform
 * connects instead of before the handshake.
 */
function deferredUnary(service: grpc.ServiceDefinition, load: () => Promise<Impl>): Impl {
  const handlers: Impl = {};
  for (const name of Object.keys(service))
    handlers[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => {
      load().then(
        (impl) => (impl[name] as grpc.handleUnaryCall<unknown, unknown>)(call, done),
        (err: Error) => done({ code: grpc.status.INTERNAL, details: `the provider failed to load: ${err.message}` }),
      );
    };
  return handlers;
}

/**
 * Serves the tfplugin6 Provider the way Terraform's go-plugin client expects: a unix socket, TLS with AutoMTLS when
 * the client sent its certificate, the health/controller/stdio services beside the provider, and one handshake line
 * on stdout. `loadProvider` gives the Provider's handlers; it is called once, just after the handshake line.
 */
export async function servePlugin(loadProvider: () => Promise<Impl>, onStop: () => void = () => {}): Promise<void> {
  if (process.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    process.stderr.write(
      'This is a Terraform provider plugin: Terraform runs it. Install it with `npx portico provider install`.\n',
    );
    process.exit(1);
  }
  const services = grpcServices(protoDescriptor());
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
    // channelz keeps call statistics and traces for a debugging service nobody queries here; a plan makes ~4 calls
    // per resource, and that bookkeeping was a tenth of their cost
    'grpc.enable_channelz': 0,
  });
  let loading: Promise<Impl> | undefined;
  const provider = () => (loading ??= loadProvider());
  const providerService = services('tfplugin6.Provider');
  server.addService(providerService, deferredUnary(providerService, provider));

  server.addService(services('grpc.health.v1.Health'), {
    Check: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: 1 }),
  });
  const socket = join(tmpdir(), `plugin${randomBytes(6).toString('hex')}`);
  const exit = () => {
    onStop();
    rmSync(socket, { force: true });
    process.exit(0);
  };
  server.addService(services('plugin.GRPCController'), {
    Shutdown: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      cb(null, {});
      setImmediate(exit);
    },
  });
  // We never write to stdout after the handshake, so the stdio stream stays open and empty until shutdown.
  server.addService(services('plugin.GRPCStdio'), { StreamStdio: () => {} });
  server.addService(services('plugin.GRPCBroker'), { StartStream: () => {} });

  let credentials = grpc.ServerCredentials.createInsecure();
  let cert = '';
  const clientCert = process.env.PLUGIN_CLIENT_CERT;
  if (clientCert) {
    const own = makePluginCertificate();
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
  // Terraform's first call (GetMetadata or GetProviderSchema) needs the provider: load it while Terraform connects.
  setImmediate(() => provider().catch(() => {}));
}
