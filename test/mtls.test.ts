import type { FastifyInstance } from 'fastify';
import { Agent, request } from 'undici';
import { buildDataApp } from '../server/data/data-app';
import { testDialects } from './support/databases';
import { createRoute, setupTenant } from './support/fixtures';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';
import { startLiveNode } from './support/live-node';
import { MockHttp } from './support/mock-http';
import { issue, makeCa, type Issued } from './support/pki';

/** An HTTPS (or HTTP) call to the data port, from `from` (a loopback address), with `cert` as client certificate. */
export async function call(
  url: string,
  options: { ca?: Issued; cert?: Issued; from?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any }> {
  const { ca, cert, from = '127.0.0.1' } = options;
  const connect = { ...(ca ? { ca: ca.certPem } : {}), ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) };
  const agent = new Agent({ localAddress: from, connect });
  try {
    const res = await request(url, { dispatcher: agent, headers: options.headers });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
  } finally {
    await agent.close();
  }
}

export const escaped = (issued: Issued) => encodeURIComponent(issued.certPem);

describe.each(testDialects())('mTLS on the data plane (%s)', (dialect) => {
  const ca = makeCa('Portico test CA');
  const serverCert = issue(ca, 'gateway');
  const good = issue(ca, 'good client');
  const sibling = issue(ca, 'another client of the same CA');
  const otherCa = makeCa('Somebody else');
  const stranger = issue(otherCa, 'stranger');
  const expired = issue(ca, 'expired client', {
    notBefore: Date.now() - 10 * 86400_000,
    notAfter: Date.now() - 86400_000,
  });
  const backend = new MockHttp();
  let t: TestGateway;
  let data: FastifyInstance;
  let base: string;
  let tenantToken: string;
  let bound: { key: string };

  /** `/admin/mtls/*` is served with the rest of `/admin/*`: on the admin port of this (`all`) node. */
  const admin = (path: string, token: string | null = OWNER_TOKEN) =>
    t.api('GET', `/admin/mtls/${path}`, undefined, token);
  const stats = async () => (await admin('stats')).body;
  /** What `act` moved in the stats. */
  async function moved(act: () => Promise<unknown>) {
    const before = await stats();
    await act();
    const after = await stats();
    return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
  }

  beforeAll(async () => {
    const backendUrl = await backend.start();
    t = await startTestGateway(dialect, {
      PORTICO_DATA_TLS_CERT: serverCert.certPem,
      PORTICO_DATA_TLS_KEY: serverCert.keyPem,
      PORTICO_DATA_TLS_CLIENT_CA: ca.certPem,
      PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT: 'true',
      PORTICO_DATA_TLS_TRUSTED_PROXIES: '127.0.0.1/32',
    });
    await createRoute(t, null, { path_prefix: '/open', backend_url: backendUrl, auth_required: false });
    const tenant = await setupTenant(t, {
      key: { metadata: { client_cert_sha256: good.cert.fingerprint256 } }, // colon form, as openssl prints it
      route: { path_prefix: '/bound', backend_url: backendUrl },
    });
    bound = { key: tenant.key };
    tenantToken = (await t.api('POST', '/v1/admin/tokens', { name: 'ops', role: 'admin', tenant_id: tenant.tenantId }))
      .body.token;
    data = await buildDataApp(t.gateway);
    base = await data.listen({ host: '127.0.0.1', port: 0 });
  }, 180_000); // a busy machine: a gateway, a tenant and two routes
  afterAll(async () => {
    await data?.close();
    await t?.close();
    await backend.stop();
  });

  test('the data port serves HTTPS with the configured certificate', () => {
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  test('without a certificate a request is refused after the handshake: 401 client_cert_required', async () => {
    const delta = await moved(async () => {
      const res = await call(`${base}/open/x`, { ca });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('client_cert_required');
    });
    expect(delta).toEqual({ total_requests: 1, cert_validated: 0, cert_missing: 1, cert_invalid: 0 });
  });

  test("another CA's certificate, or an expired one, is refused: 401 client_cert_invalid", async () => {
    const delta = await moved(async () => {
      for (const cert of [stranger, expired]) {
        const res = await call(`${base}/open/x`, { ca, cert });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('client_cert_invalid');
      }
    });
    expect(delta).toEqual({ total_requests: 2, cert_validated: 0, cert_missing: 0, cert_invalid: 2 });
  });

  test('a certificate of the configured CA passes', async () => {
    const seen = backend.seen.length;
    const delta = await moved(async () => {
      const res = await call(`${base}/open/hello`, { ca, cert: good });
      expect(res.status).toBe(200);
      expect(res.body.url).toBe('/open/hello');
    });
    expect(backend.seen.length).toBe(seen + 1);
    expect(delta).toEqual({ total_requests: 1, cert_validated: 1, cert_missing: 0, cert_invalid: 0 });
  });

  test('a trusted proxy may pass a verified certificate in X-Client-Cert; the header never reaches the upstream', async () => {
    const delta = await moved(async () => {
      const res = await call(`${base}/open/proxied`, { ca, headers: { 'x-client-cert': escaped(good) } });
      expect(res.status).toBe(200);
      expect(res.body.headers['x-client-cert']).toBeUndefined();
    });
    expect(delta).toEqual({ total_requests: 1, cert_validated: 1, cert_missing: 0, cert_invalid: 0 });
  });

  test("a trusted proxy's header is verified again: another CA's certificate in it is refused", async () => {
    const delta = await moved(async () => {
      const res = await call(`${base}/open/x`, { ca, headers: { 'x-client-cert': escaped(stranger) } });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('client_cert_invalid');
      const garbage = await call(`${base}/open/x`, { ca, headers: { 'x-client-cert': '%E0%A4%A' } });
      expect(garbage.body.error.code).toBe('client_cert_invalid');
    });
    expect(delta).toEqual({ total_requests: 2, cert_validated: 0, cert_missing: 0, cert_invalid: 2 });
  });

  test('from an address that is not a trusted proxy the header is ignored and stripped', async () => {
    const delta = await moved(async () => {
      const refused = await call(`${base}/open/x`, {
        ca,
        from: '127.0.0.2',
        headers: { 'x-client-cert': escaped(good) },
      });
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('client_cert_required');
      // its own certificate is what counts; the header a client wrote is not passed on
      const withCert = { ca, cert: sibling, from: '127.0.0.2', headers: { 'x-client-cert': escaped(stranger) } };
      const passed = await call(`${base}/open/y`, withCert);
      expect(passed.status).toBe(200);
      expect(passed.body.headers['x-client-cert']).toBeUndefined();
    });
    expect(delta).toEqual({ total_requests: 2, cert_validated: 1, cert_missing: 1, cert_invalid: 0 });
  });

  test('probes answer without a client certificate and are not counted', async () => {
    const delta = await moved(async () => {
      expect((await call(`${base}/health/live`, { ca })).status).toBe(200);
    });
    expect(delta.total_requests).toBe(0);
  });

  test('a key bound to a certificate (metadata client_cert_sha256) serves that certificate only', async () => {
    const auth = { authorization: `Bearer ${bound.key}` };
    const ok = await call(`${base}/bound/a`, { ca, cert: good, headers: auth });
    expect(ok.status).toBe(200);
    const other = await call(`${base}/bound/a`, { ca, cert: sibling, headers: auth });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('client_cert_mismatch');
    const viaProxy = await call(`${base}/bound/a`, { ca, headers: { ...auth, 'x-client-cert': escaped(good) } });
    expect(viaProxy.status).toBe(200);
  });

  test("GET /admin/mtls/config is the seed's shape, with the proxies redacted", async () => {
    const res = await admin('config');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ enabled: true, require_client_cert: true, trusted_proxies: '[redacted]' });
    expect(JSON.stringify(res.body)).not.toContain('127.0.0.1');
  });

  test('/admin/mtls/* needs the owner token or a platform token: 401 without or with a bad one, 403 for a tenant role', async () => {
    for (const path of ['config', 'stats']) {
      expect((await admin(path, null)).status).toBe(401);
      expect((await admin(path, 'not-a-token-at-all')).status).toBe(401);
      expect((await admin(path, tenantToken)).status).toBe(403);
    }
    const pat = (await t.api('POST', '/v1/admin/tokens', { name: 'cp', role: 'policy-admin' })).body.token;
    expect((await admin('stats', pat)).status).toBe(200);
  });

  test("an `all` node's data port does not serve /admin/mtls/*: there it is a path like any other, checked", async () => {
    const delta = await moved(async () => {
      const res = await call(`${base}/admin/mtls/stats`, { ca, headers: { authorization: `Bearer ${OWNER_TOKEN}` } });
      expect([res.status, res.body.error.code]).toEqual([401, 'client_cert_required']);
    });
    expect(delta).toEqual({ total_requests: 1, cert_validated: 0, cert_missing: 1, cert_invalid: 0 });
  });

  test('the counts are in /metrics too, split by how the certificate came', async () => {
    const s = await stats();
    const text = (await t.admin.inject({ url: '/metrics', headers: { authorization: `Bearer ${OWNER_TOKEN}` } })).body;
    const value = (labels: string) =>
      Number(new RegExp(`portico_mtls_requests_total\\{${labels}\\} (\\d+)`).exec(text)![1]);
    const validated = value('result="validated",source="tls"') + value('result="validated",source="header"');
    expect(validated).toBe(s.cert_validated);
    expect(value('result="validated",source="header"')).toBeGreaterThanOrEqual(2);
    expect(value('result="missing",source=""')).toBe(s.cert_missing);
    expect(value('result="invalid",source=""')).toBe(s.cert_invalid);
  });
});

test('a data node (no admin port) serves /admin/mtls/* on its data port, behind the bearer token only', async () => {
  const ca = makeCa('data node CA');
  const serverCert = issue(ca, 'data node');
  const node = await startLiveNode({
    PORTICO_ROLE: 'data',
    PORTICO_DATA_TLS_CERT: serverCert.certPem,
    PORTICO_DATA_TLS_KEY: serverCert.keyPem,
    PORTICO_DATA_TLS_CLIENT_CA: ca.certPem,
    PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT: 'true',
  });
  try {
    expect(node.server.adminUrl).toBeUndefined();
    const owner = { authorization: `Bearer ${OWNER_TOKEN}` };
    // no client certificate: the admin surface has its bearer token, and its reads are not counted
    const config = await call(`${node.dataUrl}/admin/mtls/config`, { ca, headers: owner });
    expect([config.status, config.body]).toEqual([
      200,
      { enabled: true, require_client_cert: true, trusted_proxies: '[]' },
    ]);
    expect((await call(`${node.dataUrl}/admin/mtls/stats`, { ca })).status).toBe(401);
    expect((await call(`${node.dataUrl}/some/route`, { ca })).body.error.code).toBe('client_cert_required');
    const stats = await call(`${node.dataUrl}/admin/mtls/stats`, { ca, headers: owner });
    expect([stats.status, stats.body]).toEqual([
      200,
      { total_requests: 1, cert_validated: 0, cert_missing: 1, cert_invalid: 0 },
    ]);
  } finally {
    await node.close();
  }
}, 120_000);
