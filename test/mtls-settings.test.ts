import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import pino from 'pino';
import { Agent, request } from 'undici';
import { startServer, type RunningServer } from '../server/app';
import { ConfigError, loadConfig } from '../server/config';
import { testPgliteImage } from './support/pglite-image';
import { issue, makeCa } from './support/pki';

const ca = makeCa('settings CA');
const server = issue(ca, 'gateway');
const other = issue(ca, 'not the gateway');

/** The ConfigError `env` causes, or undefined. */
function refusal(env: Record<string, string>): ConfigError | undefined {
  try {
    loadConfig(env);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}

describe('data plane TLS settings', () => {
  test('certificate, key and CA load inline, with \\n for line breaks, or from files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-tls-'));
    writeFileSync(join(dir, 'cert.pem'), server.certPem);
    writeFileSync(join(dir, 'key.pem'), server.keyPem);
    const fromFiles = loadConfig({
      PORTICO_DATA_TLS_CERT: join(dir, 'cert.pem'),
      PORTICO_DATA_TLS_KEY: join(dir, 'key.pem'),
      PORTICO_DATA_TLS_CLIENT_CA: ca.certPem.replace(/\n/g, '\\n'),
      PORTICO_DATA_TLS_TRUSTED_PROXIES: '10.0.0.0/8, ::1',
      PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT: 'true',
    }).dataTls;
    expect(fromFiles.server?.cert).toBe(server.certPem);
    expect(fromFiles.server?.key.reveal()).toBe(server.keyPem);
    expect(fromFiles.clientCa?.certs.map((c) => c.fingerprint256)).toEqual([ca.cert.fingerprint256]);
    expect(fromFiles.trustedProxies).toHaveLength(2);
    expect(fromFiles.requireClientCert).toBe(true);
    expect(fromFiles.certHeader).toBe('x-client-cert');
  });

  test('the private key never shows in JSON or an inspected config', () => {
    const config = loadConfig({ PORTICO_DATA_TLS_CERT: server.certPem, PORTICO_DATA_TLS_KEY: server.keyPem });
    const body = server.keyPem.split('\n')[1]!;
    expect(JSON.stringify(config)).not.toContain(body);
    expect(inspect(config, { depth: 10 })).not.toContain(body);
  });

  test.each([
    ['a certificate without its key', { PORTICO_DATA_TLS_CERT: server.certPem }, 'PORTICO_DATA_TLS_KEY'],
    ['a key without its certificate', { PORTICO_DATA_TLS_KEY: server.keyPem }, 'PORTICO_DATA_TLS_CERT'],
    [
      'a key of another certificate',
      { PORTICO_DATA_TLS_CERT: server.certPem, PORTICO_DATA_TLS_KEY: other.keyPem },
      'PORTICO_DATA_TLS_KEY',
    ],
    [
      'a key that is not PEM',
      { PORTICO_DATA_TLS_CERT: server.certPem, PORTICO_DATA_TLS_KEY: '-----BEGIN PRIVATE KEY-----\nnope' },
      'PORTICO_DATA_TLS_KEY',
    ],
    ['a missing file', { PORTICO_DATA_TLS_CLIENT_CA: '/nonexistent/ca.pem' }, 'PORTICO_DATA_TLS_CLIENT_CA'],
    ['a bad proxy range', { PORTICO_DATA_TLS_TRUSTED_PROXIES: '10.0.0.0/33' }, 'PORTICO_DATA_TLS_TRUSTED_PROXIES'],
    ['a bad flag', { PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT: 'yes please' }, 'PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT'],
    [
      'a requirement nothing can meet',
      { PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT: 'true' },
      'PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT',
    ],
    ['a CA with nothing to verify', { PORTICO_DATA_TLS_CLIENT_CA: ca.certPem }, 'PORTICO_DATA_TLS_CLIENT_CA'],
    ['a bad header name', { PORTICO_DATA_TLS_CERT_HEADER: 'x client cert' }, 'PORTICO_DATA_TLS_CERT_HEADER'],
  ])('refuses %s, naming the variable and quoting no key', (_what, env, variable) => {
    const err = refusal(env);
    expect(err?.variable).toBe(variable);
    expect(err!.message).not.toContain('PRIVATE KEY');
    expect(err!.message).not.toContain(other.keyPem.split('\n')[1]!);
  });
});

describe('a data node behind a TLS-terminating proxy (plain HTTP, certificate in a header)', () => {
  let node: RunningServer;
  const good = issue(ca, 'client');
  const get = async (path: string, headers: Record<string, string> = {}, from = '127.0.0.1') => {
    const agent = new Agent({ localAddress: from });
    try {
      const res = await request(`${node.dataUrl}${path}`, { dispatcher: agent, headers });
      return { status: res.statusCode, body: (await res.body.json().catch(() => undefined)) as any };
    } finally {
      await agent.close();
    }
  };

  beforeAll(async () => {
    // no PORTICO_ADMIN_TOKEN: the node makes its own (the bootstrap token)
    const config = loadConfig({
      PORTICO_ROLE: 'data',
      PORTICO_DATA_PORT: '0',
      PORTICO_DATA_DIR: 'memory://',
      PORTICO_DATA_TLS_CLIENT_CA: ca.certPem,
      PORTICO_DATA_TLS_TRUSTED_PROXIES: '127.0.0.1',
      PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT: 'true',
    });
    node = await startServer(config, pino({ level: 'silent' }), { pgliteImage: testPgliteImage() });
  }, 120_000);
  afterAll(() => node?.close());

  test('serves plain HTTP; the proxy header passes, its absence or a header from elsewhere does not', async () => {
    expect(node.dataUrl).toMatch(/^http:\/\//);
    const header = { 'x-client-cert': encodeURIComponent(good.certPem) };
    // no route serves /anything: a 404 means the certificate check let the request through
    expect((await get('/anything', header)).status).toBe(404);
    const missing = await get('/anything');
    expect([missing.status, missing.body.error.code]).toEqual([401, 'client_cert_required']);
    expect((await get('/anything', header, '127.0.0.3')).status).toBe(401);
  });

  test('/admin/mtls/* is under the node admin rule, without a client certificate: a bad token is a 401', async () => {
    // the node generated its own admin token (no PORTICO_ADMIN_TOKEN): the surface is on, and this is not its token
    const res = await get('/admin/mtls/stats', { authorization: 'Bearer whatever-token-0123456789' });
    expect([res.status, res.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
  });
});
