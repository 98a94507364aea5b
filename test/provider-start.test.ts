import * as grpc from '@grpc/grpc-js';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { startOnce } from '../bench/provider-start';
import { makePluginCertificate } from '../provider/certificate';
import { grpcServices } from '../provider/grpc-services';
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from '../provider/handshake';
import { buildProvider, platform, PROVIDER_VERSION } from '../provider/install';
import { protoDescriptor } from '../provider/proto-descriptor';
import { TerraformDir, terraformAvailable } from './support/terraform';

const HANDSHAKE = /^1\|6\|unix\|(\/[^|]+)\|grpc\|([A-Za-z0-9+/]+)$/;
const services = grpcServices(protoDescriptor());

/** A folder holding only a link to `command`: a PATH on which that command is found and `node` is not. */
function pathWithOnly(command: string): string {
  const found = execFileSync('sh', ['-c', `command -v ${command}`])
    .toString()
    .trim();
  const dir = mkdtempSync(join(tmpdir(), 'portico-path-'));
  symlinkSync(found, join(dir, command));
  return dir;
}

const derToPem = (base64: string) => new X509Certificate(Buffer.from(base64, 'base64')).toString(); // the handshake's base64 has no padding

/** One unary call over the provider's socket, with AutoMTLS as go-plugin does it. */
function call(
  socket: string,
  serverCertPem: string,
  client: { certPem: string; keyPem: string },
  service: string,
  method: string,
  request: object,
): Promise<any> {
  const Client = grpc.makeGenericClientConstructor(services(service), service);
  const stub = new Client(
    `unix://${socket}`,
    grpc.credentials.createSsl(Buffer.from(serverCertPem), Buffer.from(client.keyPem), Buffer.from(client.certPem)),
    { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' },
  ) as any;
  return new Promise((resolve, reject) =>
    stub[method](request, { deadline: Date.now() + 10_000 }, (err: Error | null, res: unknown) => {
      stub.close();
      if (err) reject(err);
      else resolve(res);
    }),
  );
}

describe('installed provider start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-provider-'));
  let binary: string;
  beforeAll(async () => {
    binary = await buildProvider(dir);
  });

  test('the install: launcher, entry, two bundles and their V8 code caches (accepted by this Node), no .proto files', () => {
    expect(readdirSync(dir).sort()).toEqual([
      'provider-service.cjs',
      'provider-service.cjs.v8cache',
      'provider.cjs',
      'provider.cjs.v8cache',
      'start.cjs',
      'terraform-provider-portico',
    ]);
    for (const bundle of ['provider.cjs', 'provider-service.cjs']) {
      const filename = join(dir, bundle);
      const script = new Script(Module.wrap(readFileSync(filename, 'utf8')), {
        filename,
        cachedData: readFileSync(`${filename}.v8cache`),
      });
      expect(script.cachedDataRejected).toBe(false);
    }
  });

  test('the handshake line, then gRPC over AutoMTLS with the certificate it carries', async () => {
    const client = makePluginCertificate();
    const other = makePluginCertificate();
    let socket = '';
    await startOnce(binary, client.certPem, {}, async ({ line }) => {
      const [, path, der] = line.match(HANDSHAKE) ?? [];
      expect(path && der).toBeTruthy();
      socket = path!;
      expect(existsSync(socket)).toBe(true);

      const cert = new X509Certificate(Buffer.from(der!, 'base64'));
      expect(cert.ca).toBe(true);
      expect(cert.checkHost('localhost')).toBe('localhost');
      expect(cert.verify(cert.publicKey)).toBe(true); // self-signed
      expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
      expect(new Date(cert.validFrom).getTime()).toBeLessThan(Date.now());

      const pem = derToPem(der!);
      expect(await call(socket, pem, client, 'grpc.health.v1.Health', 'Check', {})).toEqual({ status: 1 });
      const meta = await call(socket, pem, client, 'tfplugin6.Provider', 'GetMetadata', {});
      expect(meta.resources.map((r: { type_name: string }) => r.type_name)).toContain('portico_tenant');
      // Only the certificate Terraform sent in PLUGIN_CLIENT_CERT is let in.
      await expect(call(socket, pem, other, 'grpc.health.v1.Health', 'Check', {})).rejects.toThrow();
    });
    expect(existsSync(socket)).toBe(false); // SIGTERM removes the socket
  });

  test('code caches V8 refuses (written by another Node.js) cost time, not the start', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'portico-provider-stale-'));
    cpSync(dir, copy, { recursive: true });
    for (const bundle of ['provider.cjs', 'provider-service.cjs'])
      writeFileSync(join(copy, `${bundle}.v8cache`), Buffer.alloc(4096, 7));
    const client = makePluginCertificate();
    await startOnce(join(copy, 'terraform-provider-portico'), client.certPem, {}, async ({ line }) => {
      const [, socket, der] = line.match(HANDSHAKE) ?? [];
      const meta = await call(socket!, derToPem(der!), client, 'tfplugin6.Provider', 'GetMetadata', {});
      expect(meta.resources.length).toBeGreaterThan(0);
    });
  });

  test('without PLUGIN_CLIENT_CERT it serves plain gRPC and the line carries no certificate', async () => {
    const { line } = await startOnce(binary, '', { PLUGIN_CLIENT_CERT: '' });
    expect(line).toMatch(/^1\|6\|unix\|\/[^|]+\|grpc\|$/);
  });

  test('outside Terraform (no magic cookie) it says what it is and exits 1', () => {
    const run = spawnSync(binary, [], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Terraform runs it/);
  });

  test('with no node on PATH it still starts, on the Node.js it was installed with', async () => {
    const client = makePluginCertificate();
    const { line } = await startOnce(binary, client.certPem, { PATH: mkdtempSync(join(tmpdir(), 'empty-path-')) });
    expect(line).toMatch(HANDSHAKE);
  });

  describe('with no Node.js at all', () => {
    const gone = mkdtempSync(join(tmpdir(), 'portico-provider-gone-'));
    const emptyPath = mkdtempSync(join(tmpdir(), 'empty-path-'));
    beforeAll(async () => {
      await buildProvider(gone, { node: join(emptyPath, 'node') });
    });

    test('the launcher names what is missing and exits 127', () => {
      const run = spawnSync(join(gone, 'terraform-provider-portico'), [], {
        env: { PATH: emptyPath },
        encoding: 'utf8',
      });
      expect(run.status).toBe(127);
      expect(run.stderr).toContain('Node.js 20 or later');
      expect(run.stderr).toContain(join(emptyPath, 'node'));
      expect(run.stderr).toContain('`node` on PATH');
      expect(run.stdout).toBe(''); // run by hand: stderr only
    });

    test('run by Terraform, the message also goes to stdout, where go-plugin shows it', () => {
      const run = spawnSync(join(gone, 'terraform-provider-portico'), [], {
        env: { PATH: emptyPath, [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE },
        encoding: 'utf8',
      });
      expect(run.status).toBe(127);
      expect(run.stdout).toContain('cannot start: it runs on Node.js 20 or later');
    });

    (terraformAvailable() ? test : test.skip)('terraform validate shows the message', async () => {
      const tf = new TerraformDir({ PATH: pathWithOnly('terraform') });
      await buildProvider(
        join(
          tf.home,
          '.terraform.d',
          'plugins',
          'registry.terraform.io',
          'portico',
          'portico',
          PROVIDER_VERSION,
          platform(),
        ),
        { node: join(emptyPath, 'node') },
      );
      tf.write(
        'main.tf',
        `terraform {\n  required_providers {\n    portico = { source = "portico/portico" }\n  }\n}\n` +
          `resource "portico_tenant" "t" {\n  id   = "acme"\n  name = "Acme"\n}\n`,
      );
      expect((await tf.tf('init', '-input=false', '-no-color')).code).toBe(0);
      const validate = await tf.tf('validate', '-no-color');
      expect(validate.code).toBe(1);
      expect(validate.stderr.replace(/\s+/g, ' ')).toContain(
        'terraform-provider-portico: cannot start: it runs on Node.js 20 or later',
      );
    });
  });
});
