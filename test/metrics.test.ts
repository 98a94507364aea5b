import type { FastifyInstance } from 'fastify';
import { buildDataApp } from '../server/data/data-app';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp } from './support/mock-http';

const SCRAPER_TOKEN = 'scraper-token-0123456789';
const DOWN_URL = 'http://127.0.0.1:9';

describe.each(testDialects())('/metrics (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let backend: MockHttp;
  let backendUrl: string;
  let key: string;
  let tenantToken: string;
  const bearer = (token: string | null): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});
  const adminGet = async (url: string, token: string | null = null) => {
    const res = await t.admin.inject({ url, headers: bearer(token) });
    return { status: res.statusCode, body: res.body };
  };
  const dataGet = async (base: string, url: string, token: string | null = null) => {
    const res = await fetch(`${base}${url}`, { headers: bearer(token) });
    return { status: res.status, body: await res.text() };
  };
  /** What names a customer or an upstream: none of it may reach a caller the platform has not authenticated. */
  const private_ = () => ['acme', new URL(backendUrl).host, '127.0.0.1:9', 'orders', 'down'];

  beforeAll(async () => {
    t = await startTestGateway(dialect, { PORTICO_METRICS_TOKEN: SCRAPER_TOKEN }, { webhooks: false });
    backend = new MockHttp();
    backendUrl = await backend.start();
    data = await startDataPlane(t);
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    const k = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'prod' })).body;
    key = k.key;
    tenantToken = (await t.api('POST', '/v1/admin/tokens', { name: 'acme admin', role: 'admin', tenant_id: 'acme' }))
      .body.token;
    await t.api('POST', '/v1/admin/routes', { id: 'orders', path_prefix: '/orders', backend_url: backendUrl });
    await t.api('POST', '/v1/admin/routes', {
      id: 'down',
      path_prefix: '/down',
      backend_url: DOWN_URL,
      circuit_breaker: { failure_threshold: 1, cooldown_ms: 60_000 },
    });
    await until(() => !!t.gateway.snapshot.get('api_key', k.id) && !!t.gateway.snapshot.get('route', 'down'));
    // traffic that leaves tenant, status, upstream-error and circuit series behind
    expect((await dataGet(data.url, '/orders/1', key)).status).toBe(200);
    expect((await dataGet(data.url, '/down/1', key)).status).toBe(502);
    expect((await dataGet(data.url, '/down/1', key)).status).toBe(503);
  });
  afterAll(async () => {
    await data?.close();
    await backend?.stop();
    await t?.close();
  });

  test('the admin port serves the data plane metrics to platform roles and the metrics token', async () => {
    for (const token of [OWNER_TOKEN, SCRAPER_TOKEN]) {
      const res = await t.admin.inject({ url: '/metrics', headers: bearer(token) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.body).toContain('portico_requests_total{kind="http",tenant="acme",status="200"} 1');
      expect(res.body).toMatch(/portico_request_duration_seconds_count\{kind="http"\} 3/);
      expect(res.body).toMatch(/portico_upstream_errors_total\{[^}]*reason="connect"\} 1/);
      expect(res.body).toMatch(/portico_circuit_state\{[^}]+\} 2/);
      expect(res.body).toContain('# TYPE portico_records_dropped_total counter');
      expect(res.body).toContain('portico_records_dropped_total{table="request_logs"} 0');
    }
    // a platform role's own token does as well as the bootstrap owner's
    const policyAdmin = (await t.api('POST', '/v1/admin/tokens', { name: 'ops', role: 'policy-admin' })).body.token;
    expect((await adminGet('/metrics', policyAdmin)).status).toBe(200);
    // the scrape is not data-plane traffic: it leaves no request of its own in the counts
    expect((await adminGet('/metrics', OWNER_TOKEN)).body).toMatch(
      /portico_request_duration_seconds_count\{kind="http"\} 3\n/,
    );
  });

  test('nothing an unauthenticated caller, a tenant or the metrics token can read names a tenant or an upstream', async () => {
    const reads = [
      ['admin /metrics, no token', await adminGet('/metrics'), 401],
      ['admin /metrics, a wrong token', await adminGet('/metrics', 'not-a-token-at-all'), 401],
      ['admin /metrics, a tenant admin', await adminGet('/metrics', tenantToken), 403],
      ['admin /health/live', await adminGet('/health/live'), 200],
      ['admin /health/ready', await adminGet('/health/ready'), 200],
      ['the metrics token elsewhere on the admin API', await adminGet('/v1/admin/tenants', SCRAPER_TOKEN), 401],
      // this node has an admin port: its data port serves no metrics (the path is just an unrouted one)
      ['data /metrics, no token', await dataGet(data.url, '/metrics'), 404],
      ['data /metrics, the owner token', await dataGet(data.url, '/metrics', OWNER_TOKEN), 404],
      ['data /health/live', await dataGet(data.url, '/health/live'), 200],
      ['data /health/ready', await dataGet(data.url, '/health/ready'), 200],
    ] as const;
    for (const [name, res, status] of reads) {
      expect([name, res.status]).toEqual([name, status]);
      for (const word of private_()) expect([name, res.body.includes(word)]).toEqual([name, false]);
    }
  });

  test('a data-only node, which has no admin port, serves /metrics on its data port under the same rule', async () => {
    const node: FastifyInstance = await buildDataApp({ ...t.gateway, config: { ...t.gateway.config, role: 'data' } });
    const url = await node.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect((await dataGet(url, '/orders/2', key)).status).toBe(200);
      const anonymous = await dataGet(url, '/metrics');
      expect([anonymous.status, JSON.parse(anonymous.body).error.code]).toEqual([401, 'unauthorized']);
      const tenant = await dataGet(url, '/metrics', tenantToken);
      expect([tenant.status, JSON.parse(tenant.body).error.code]).toEqual([403, 'forbidden']);
      for (const res of [anonymous, tenant]) for (const word of private_()) expect(res.body).not.toContain(word);
      const scraped = await dataGet(url, '/metrics', SCRAPER_TOKEN);
      expect(scraped.status).toBe(200);
      expect(scraped.body).toContain('portico_requests_total{kind="http",tenant="acme",status="200"} 1');
    } finally {
      await node.close();
    }
  });
});
