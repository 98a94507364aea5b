import { randomBytes } from 'node:crypto';
import { Agent, request as undiciRequest } from 'undici';
import { createPostgresDatabase, testDialects, type TestDialect } from './support/databases';
import { OWNER_TOKEN, until } from './support/gateway';
import { request, startLiveNode, type LiveNode } from './support/live-node';
import { MockHttp } from './support/mock-http';
import { issue, makeCa, type Issued } from './support/pki';

// a live node per dialect on a shared, busy machine: starting one may take a while
jest.setTimeout(120_000);

/**
 * Seed 003's endpoint summary, row by row, against a live node (role `all`: `/admin/*` on its admin port), on each
 * dialect. The node has mTLS on: its data port serves HTTPS and checks client certificates of a CA made here, on the
 * connection or from a trusted proxy (loopback) in `X-Client-Cert`; not required, so the other rows' traffic passes
 * without one, while the mTLS rows see every kind of check counted.
 */
describe.each(testDialects())('node admin API, seed 003 summary table (%s)', (dialect: TestDialect) => {
  let node: LiveNode;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  const backend = new MockHttp();
  let backendUrl: string;
  const tenant = `acme-${randomBytes(3).toString('hex')}`;
  let keyToken: string;
  /** A key on a tier with a daily quota of 3, used by the quota rows only. */
  let quotaToken: string;
  let keyId: string;
  const ca = makeCa('conformance CA');
  const serverCert = issue(ca, 'gateway');
  const client = issue(ca, 'conformance client');
  const stranger = issue(makeCa('another CA'), 'stranger');

  /** A GET to the node's HTTPS data port, trusting the test CA, with `cert` as client certificate if given. */
  async function overTls(path: string, opts: { token?: string; cert?: Issued; headers?: Record<string, string> } = {}) {
    const client = opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {};
    const agent = new Agent({ connect: { ca: ca.certPem, ...client } });
    try {
      const auth = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
      const res = await undiciRequest(node.dataUrl + path, {
        dispatcher: agent,
        headers: { ...auth, ...opts.headers },
      });
      const text = await res.body.text();
      let body: any = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: kept as text
      }
      return { status: res.statusCode, body };
    } finally {
      await agent.close();
    }
  }

  const admin = (method: string, path: string, body?: unknown, token?: string | null) =>
    node.call(method, path, body, token);
  const traffic = (path: string, token = keyToken) => overTls(path, { token });

  beforeAll(async () => {
    backendUrl = await backend.start();
    pg = dialect === 'postgres' ? await createPostgresDatabase('migrated') : undefined;
    node = await startLiveNode({
      ...(pg ? { DATABASE_URL: pg.url } : {}),
      PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
      PORTICO_DATA_TLS_CERT: serverCert.certPem,
      PORTICO_DATA_TLS_KEY: serverCert.keyPem,
      PORTICO_DATA_TLS_CLIENT_CA: ca.certPem,
      PORTICO_DATA_TLS_TRUSTED_PROXIES: '127.0.0.1/32',
    });
    expect((await admin('POST', '/v1/admin/tenants', { id: tenant, name: 'Acme' })).status).toBe(201);
    const tier = await admin('POST', '/v1/admin/rate-limit-tiers', {
      id: `gold-${tenant}`,
      limit: 1000,
      window_secs: 60,
      daily_quota: 3,
      monthly_quota: 50,
    });
    expect(tier.status).toBe(201);
    const key = await admin('POST', `/v1/admin/tenants/${tenant}/keys`, {
      name: 'consumer',
      rate_limit_tier: `gold-${tenant}`,
    });
    expect(key.status).toBe(201);
    quotaToken = key.body.key;
    keyId = key.body.id;
    const plain = await admin('POST', `/v1/admin/tenants/${tenant}/keys`, { name: 'no quota' });
    keyToken = plain.body.key;
  }, 240_000);

  afterAll(async () => {
    await node?.close();
    await pg?.drop();
    await backend.stop();
  });

  const seedApi = () => ({
    id: 'api-123',
    name: 'payments',
    tenant_id: tenant,
    path_prefix: `/apis/${tenant}/payments`,
    backend_url: backendUrl,
    methods: ['GET', 'POST', 'PUT'],
    spec_hash: 'abc123def456',
    activated: true,
  });

  test('authentication: 401 without or with a bad token, 403 for a tenant token, probes open', async () => {
    const missing = await admin('GET', '/admin/health', undefined, null);
    expect([missing.status, missing.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    const bad = await admin('GET', '/admin/health', undefined, 'not-the-admin-token-at-all');
    expect([bad.status, bad.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    const pat = await admin('POST', '/v1/admin/tokens', { name: 'tenant admin', role: 'admin', tenant_id: tenant });
    expect(pat.status).toBe(201);
    const tenantCall = await admin('GET', '/admin/health', undefined, pat.body.token);
    expect([tenantCall.status, tenantCall.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const billing = await admin('POST', '/v1/admin/tokens', { name: 'billing', role: 'billing-admin' });
    expect((await admin('GET', '/admin/health', undefined, billing.body.token)).status).toBe(200);
    // a platform role that may not write routes reads, but may not reset
    const reset = await admin('POST', '/admin/cache/clear', undefined, billing.body.token);
    expect([reset.status, reset.body.error.code]).toEqual([403, 'FORBIDDEN']);
    // /health/ready and /health/live: no authentication, as they were
    expect((await request('GET', `${node.adminBase}/health/live`, undefined, null)).body).toEqual({ status: 'ok' });
    expect((await request('GET', `${node.adminBase}/health/ready`, undefined, null)).body).toEqual({ status: 'ready' });
    expect(node.dataUrl).toMatch(/^https:/);
    expect((await overTls('/health/live')).body).toEqual({ status: 'ok' });
    expect((await overTls('/health/ready')).body).toEqual({ status: 'ready' });
  });

  test('GET /admin/health', async () => {
    const res = await admin('GET', '/admin/health');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['status', 'version', 'routes_count', 'policies_count']);
    expect(res.body).toMatchObject({ status: 'ok', version: expect.any(String) });
  });

  test('POST /admin/apis (201 created, 200 updated), GET list and one, DELETE (204, then 404)', async () => {
    const created = await admin('POST', '/admin/apis', seedApi());
    expect([created.status, created.body]).toEqual([201, seedApi()]);
    const changed = { ...seedApi(), methods: ['GET', 'POST'], spec_hash: 'abc123' };
    const updated = await admin('POST', '/admin/apis', changed);
    expect([updated.status, updated.body]).toEqual([200, changed]);
    const list = await admin('GET', '/admin/apis');
    expect(list.status).toBe(200);
    expect(Array.isArray(list.body)).toBe(true);
    expect(list.body).toContainEqual(changed);
    expect(Object.keys(list.body[0])).toEqual(Object.keys(seedApi()));
    expect((await admin('GET', '/admin/apis/api-123')).body).toEqual(changed);
    const health = await admin('GET', '/admin/health');
    await until(async () => (await admin('GET', '/admin/health')).body.routes_count === 1);
    expect(health.status).toBe(200);
    // the same model: an HTTP route of /v1/admin/routes, its write audited with the caller as actor
    const routeRes = await admin('GET', `/v1/admin/routes/api-123?tenant_id=${tenant}`);
    expect(routeRes.body).toMatchObject({
      path_prefix: changed.path_prefix,
      enabled: true,
      version: 2,
      metadata: { name: 'payments', spec_hash: 'abc123' },
    });
    const events = await admin('GET', `/v1/admin/audit/events?tenant_id=${tenant}&type=ROUTE_UPDATED`);
    expect(events.body.data[0]).toMatchObject({
      actor: { type: 'token', id: 'bootstrap' },
      resource: { kind: 'route', id: 'api-123' },
      changes: { methods: { from: ['GET', 'POST', 'PUT'], to: ['GET', 'POST'] } },
    });
    // the API serves traffic on this node
    await until(async () => (await traffic(`/apis/${tenant}/payments/charges`)).status === 200);
    const missing = await admin('GET', '/admin/apis/no-such-api');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const bad = await admin('POST', '/admin/apis', { ...seedApi(), id: 'api-bad', methods: ['FETCH'], color: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: any) => d.path).sort()).toEqual(['color', 'methods.0']);
    const gone = await admin('POST', '/admin/apis', { ...seedApi(), id: 'api-gone' });
    expect(gone.status).toBe(201);
    const deleted = await admin('DELETE', '/admin/apis/api-gone');
    expect([deleted.status, deleted.body]).toEqual([204, undefined]);
    // safe to repeat: a second delete answers 404 and changes nothing (no audit event either)
    const deletions = async () =>
      (await admin('GET', `/v1/admin/audit/events?tenant_id=${tenant}&type=ROUTE_DELETED`)).body.data.length;
    const deletedBefore = await deletions();
    expect(deletedBefore).toBeGreaterThan(0);
    expect((await admin('DELETE', '/admin/apis/api-gone')).status).toBe(404);
    expect(await deletions()).toBe(deletedBefore);
    expect((await admin('GET', '/admin/apis/api-gone')).status).toBe(404);
  });

  test('POST /admin/policies (201, 200), GET list, DELETE (204, then 404)', async () => {
    const seedPolicy = {
      id: 'policy-123',
      name: 'rate-limit-gold',
      policy_type: 'rate_limit',
      config: { limit: 1000, window_secs: 60 },
      priority: 1,
      api_id: 'api-123',
    };
    const created = await admin('POST', '/admin/policies', seedPolicy);
    expect(created.status).toBe(201);
    expect(created.body).toEqual(seedPolicy);
    const changed = { ...seedPolicy, config: { limit: 500, window_secs: 60 }, priority: 2 };
    const updated = await admin('POST', '/admin/policies', changed);
    expect([updated.status, updated.body]).toEqual([200, changed]);
    const list = await admin('GET', '/admin/policies');
    expect(list.status).toBe(200);
    expect(list.body).toContainEqual(changed);
    // a policy of /v1/admin/policies, of the API's tenant, ACTIVE
    const stored = await admin('GET', `/v1/admin/policies/policy-123?tenant_id=${tenant}`);
    expect(stored.body).toMatchObject({ type: 'rate_limit', target: 'route', target_id: 'api-123', status: 'ACTIVE' });
    const badType = await admin('POST', '/admin/policies', { ...seedPolicy, id: 'p2', policy_type: 'teleport' });
    expect([badType.status, badType.body.error.details[0].path]).toEqual([400, 'policy_type']);
    const noApi = await admin('POST', '/admin/policies', { ...seedPolicy, id: 'p3', api_id: 'nope' });
    expect([noApi.status, noApi.body.error.details[0].path]).toEqual([400, 'api_id']);
    expect((await admin('DELETE', '/admin/policies/policy-123')).status).toBe(204);
    expect((await admin('DELETE', '/admin/policies/policy-123')).status).toBe(404);
  });

  test('GET /admin/circuit-breaker/stats and POST /admin/circuit-breaker/reset', async () => {
    const stats = await admin('GET', '/admin/circuit-breaker/stats');
    expect(stats.status).toBe(200);
    expect(Object.keys(stats.body)).toEqual([
      'name',
      'state',
      'success_count',
      'failure_count',
      'consecutive_failures',
      'open_count',
      'rejected_count',
    ]);
    expect(stats.body).toMatchObject({ name: 'cp-api-breaker', state: 'closed', consecutive_failures: 0 });
    // the database work of the earlier rows went through it
    expect(stats.body.success_count).toBeGreaterThan(0);
    const reset = await admin('POST', '/admin/circuit-breaker/reset');
    expect([reset.status, reset.body]).toEqual([200, { status: 'ok', message: 'Circuit breaker reset to closed' }]);
  });

  test('GET /admin/circuit-breakers and POST /admin/circuit-breakers/:name/reset', async () => {
    const failing = await admin('POST', '/admin/apis', {
      ...seedApi(),
      id: 'api-failing',
      path_prefix: `/apis/${tenant}/failing`,
      methods: [],
    });
    expect(failing.status).toBe(201);
    await until(async () => (await traffic(`/apis/${tenant}/failing/fail`)).status === 500);
    // five failures in a row (the default) open the circuit
    for (let i = 0; i < 5; i++) await traffic(`/apis/${tenant}/failing/fail`);
    const name = `${tenant}/api-failing`;
    const list = await admin('GET', '/admin/circuit-breakers');
    expect(list.status).toBe(200);
    const breaker = list.body.find((b: any) => b.name === name);
    expect(breaker).toMatchObject({ state: 'open', consecutive_failures: 5, open_count: 1 });
    expect(breaker.failure_count).toBeGreaterThanOrEqual(5);
    // open: refused without a call, and counted
    expect((await traffic(`/apis/${tenant}/failing/ok`)).status).toBe(503);
    const reset = await admin('POST', `/admin/circuit-breakers/${encodeURIComponent(name)}/reset`);
    expect([reset.status, reset.body.status]).toEqual([200, 'ok']);
    const after = (await admin('GET', '/admin/circuit-breakers')).body.find((b: any) => b.name === name);
    expect(after).toMatchObject({
      state: 'closed',
      consecutive_failures: 0,
      rejected_count: breaker.rejected_count + 1,
    });
    expect((await traffic(`/apis/${tenant}/failing/ok`)).status).toBe(200);
    const unknown = await admin('POST', '/admin/circuit-breakers/no-such-breaker/reset');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NOT_FOUND']);
  });

  test('GET /admin/cache/stats and POST /admin/cache/clear count real key validations', async () => {
    const before = (await admin('GET', '/admin/cache/stats')).body;
    expect(Object.keys(before)).toEqual(['hits', 'misses', 'entry_count', 'hit_rate']);
    await traffic(`/apis/${tenant}/payments/a`);
    await traffic(`/apis/${tenant}/payments/b`);
    const after = (await admin('GET', '/admin/cache/stats')).body;
    expect(after.hits).toBe(before.hits + 2);
    expect(after.entry_count).toBeGreaterThan(0);
    expect(after.hit_rate).toBeCloseTo(after.hits / (after.hits + after.misses), 3);
    const cleared = await admin('POST', '/admin/cache/clear');
    expect([cleared.status, cleared.body]).toEqual([200, { status: 'ok', message: 'Cache cleared' }]);
    expect((await admin('GET', '/admin/cache/stats')).body.entry_count).toBe(0);
    await traffic(`/apis/${tenant}/payments/c`);
    expect((await admin('GET', '/admin/cache/stats')).body.misses).toBe(after.misses + 1);
  });

  test('GET /admin/sessions/stats', async () => {
    const res = await admin('GET', '/admin/sessions/stats');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active_sessions: 0, zombie_count: 0, tracked_sessions: 0 });
  });

  test('GET /admin/quotas, /admin/quotas/:consumer_id and POST …/reset act on what the limiter enforces', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await traffic(`/apis/${tenant}/payments/q`, quotaToken)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const list = await admin('GET', '/admin/quotas');
    expect(list.status).toBe(200);
    const mine = { consumer_id: keyId, daily_count: 3, daily_limit: 3, monthly_remaining: 47 };
    expect(list.body).toContainEqual(expect.objectContaining(mine));
    const one = await admin('GET', `/admin/quotas/${keyId}`);
    expect(Object.keys(one.body)).toEqual([
      'consumer_id',
      'daily_count',
      'daily_limit',
      'monthly_count',
      'monthly_limit',
      'daily_remaining',
      'monthly_remaining',
    ]);
    expect(one.body).toEqual({
      consumer_id: keyId,
      daily_count: 3,
      daily_limit: 3,
      monthly_count: 3,
      monthly_limit: 50,
      daily_remaining: 0,
      monthly_remaining: 47,
    });
    const reset = await admin('POST', `/admin/quotas/${keyId}/reset`);
    expect([reset.status, reset.body]).toEqual([200, { status: 'ok', message: `Quota reset for consumer '${keyId}'` }]);
    expect((await admin('GET', `/admin/quotas/${keyId}`)).body).toMatchObject({ daily_count: 0, monthly_count: 0 });
    const audited = await admin('GET', `/v1/admin/audit/events?tenant_id=${tenant}&type=QUOTA_RESET`);
    expect(audited.body.data[0]).toMatchObject({
      actor: { type: 'token', id: 'bootstrap' },
      resource: { kind: 'api_key', id: keyId },
      changes: { daily_count: { from: 3, to: 0 }, monthly_count: { from: 3, to: 0 } },
    });
    expect((await traffic(`/apis/${tenant}/payments/q`, quotaToken)).status).toBe(200);
    expect((await admin('GET', `/admin/quotas/${keyId}`)).body.daily_count).toBe(1);
    const unknown = await admin('GET', '/admin/quotas/no-such-consumer');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NOT_FOUND']);
    expect((await admin('POST', '/admin/quotas/no-such-consumer/reset')).status).toBe(404);
  });

  test("GET /admin/mtls/config and /admin/mtls/stats: the seed's shapes, and the counts move", async () => {
    const config = await admin('GET', '/admin/mtls/config');
    expect(config.status).toBe(200);
    expect(Object.keys(config.body)).toEqual(['enabled', 'require_client_cert', 'trusted_proxies']);
    expect(config.body).toEqual({ enabled: true, require_client_cert: false, trusted_proxies: '[redacted]' });
    const stats = async () => {
      const res = await admin('GET', '/admin/mtls/stats');
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(['total_requests', 'cert_validated', 'cert_missing', 'cert_invalid']);
      return res.body;
    };
    const before = await stats();
    // on the connection: a certificate of the CA, one of another CA, none; and one passed by the trusted proxy
    const path = `/apis/${tenant}/payments/m`;
    expect((await overTls(path, { token: keyToken, cert: client })).status).toBe(200);
    expect((await overTls(path, { token: keyToken, cert: stranger })).status).toBe(200); // not required: counted
    expect((await overTls(path, { token: keyToken })).status).toBe(200);
    const proxied = { token: keyToken, headers: { 'x-client-cert': encodeURIComponent(client.certPem) } };
    expect((await overTls(path, proxied)).status).toBe(200);
    const after = await stats();
    const moved = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
    expect(moved).toEqual({ total_requests: 4, cert_validated: 2, cert_missing: 1, cert_invalid: 1 });
    expect((await admin('GET', '/admin/mtls/stats', undefined, null)).status).toBe(401);
  });

  test('GET /admin/openapi.json documents every row; the admin API document leaves them out', async () => {
    const doc = (await admin('GET', '/admin/openapi.json')).body;
    const rows = [
      ['get', '/admin/health'],
      ['post', '/admin/apis'],
      ['get', '/admin/apis'],
      ['get', '/admin/apis/{id}'],
      ['delete', '/admin/apis/{id}'],
      ['post', '/admin/policies'],
      ['get', '/admin/policies'],
      ['delete', '/admin/policies/{id}'],
      ['get', '/admin/circuit-breaker/stats'],
      ['post', '/admin/circuit-breaker/reset'],
      ['get', '/admin/circuit-breakers'],
      ['post', '/admin/circuit-breakers/{name}/reset'],
      ['get', '/admin/cache/stats'],
      ['post', '/admin/cache/clear'],
      ['get', '/admin/sessions/stats'],
      ['get', '/admin/quotas'],
      ['get', '/admin/quotas/{consumer_id}'],
      ['post', '/admin/quotas/{consumer_id}/reset'],
      ['get', '/admin/mtls/config'],
      ['get', '/admin/mtls/stats'],
    ];
    for (const [method, path] of rows)
      expect([path, doc.paths[path!]?.[method!]?.summary]).toEqual([path, expect.any(String)]);
    expect(doc.paths['/admin/apis/{id}'].delete.summary).toMatch(/safe to repeat/);
    const main = (await request('GET', `${node.adminBase}/v1/admin/openapi.json`, undefined, null)).body;
    expect(Object.keys(main.paths).filter((p) => p.startsWith('/admin/'))).toEqual([]);
  });
});

test('a node with PORTICO_NODE_ADMIN=off answers 503 on /admin/* and keeps its probes', async () => {
  const node = await startLiveNode({ PORTICO_NODE_ADMIN: 'off', PORTICO_MASTER_KEY: randomBytes(32).toString('hex') });
  try {
    for (const path of ['/admin/health', '/admin/mtls/config', '/admin/mtls/stats']) {
      const res = await node.call('GET', path, undefined, OWNER_TOKEN);
      expect([path, res.status, res.body.error.code]).toEqual([path, 503, 'ADMIN_API_DISABLED']);
    }
    expect((await node.call('GET', '/health/live', undefined, null)).status).toBe(200);
  } finally {
    await node.close();
  }
}, 240_000);
