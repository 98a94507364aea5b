import { request as httpRequest } from 'node:http';
import pino from 'pino';
import { testDialects } from './support/databases';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp, type SeenRequest } from './support/mock-http';

describe.each(testDialects())('HTTP API proxy (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let backend: MockHttp;
  let backendUrl: string;
  let key: string;
  let keyId: string;
  const call = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const { key: k = key, ...rest } = init;
    return fetch(`${data.url}${path}`, { ...rest, headers: { ...(k ? { authorization: `Bearer ${k}` } : {}), ...(rest.headers as Record<string, string>) } });
  };
  const route = async (body: Record<string, unknown>) => {
    const res = await t.api('POST', '/v1/admin/routes', body);
    expect(res.status).toBe(201);
    await until(() => !!t.gateway.snapshot.get('route', res.body.id));
  };

  const logLines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false, log });
    backend = new MockHttp();
    backendUrl = await backend.start();
    data = await startDataPlane(t);
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    const k = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'prod' })).body;
    key = k.key;
    keyId = k.id;
    await until(() => !!t.gateway.snapshot.get('api_key', keyId));
    await route({ id: 'orders', tenant_id: 'acme', path_prefix: '/orders', methods: ['GET', 'POST'], backend_url: `${backendUrl}/v2`, strip_prefix: true, timeout_ms: 300 });
  });
  afterAll(async () => {
    await data?.close();
    await backend?.stop();
    await t?.close();
  });

  test('a matching request goes to the backend: prefix stripped, query kept, x-forwarded-* and request id set, the Portico key and hop-by-hop headers not forwarded', async () => {
    // node:http, since fetch may not set Connection
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const headers = { authorization: `Bearer ${key}`, 'x-request-id': 'req-from-client', connection: 'keep-alive, x-secret-hop', 'x-secret-hop': 'no', 'x-custom': 'yes', te: 'trailers' };
      httpRequest(`${data.url}/orders/42/items?expand=true`, { headers }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c)).on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body }));
      })
        .on('error', reject)
        .end();
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-backend']).toBe('mock');
    expect(res.headers['x-drop-me']).toBeUndefined(); // named by the backend's Connection header: one hop only
    expect(res.headers['x-request-id']).toBe('req-from-client');
    const seen = JSON.parse(res.body) as SeenRequest;
    expect(seen.url).toBe('/v2/42/items?expand=true');
    expect(seen.headers).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': new URL(data.url).host, 'x-request-id': 'req-from-client', 'x-custom': 'yes' });
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-secret-hop']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(key);
  });

  test('bodies stream through unparsed, any content type', async () => {
    const payload = 'a,b,c\n'.repeat(20_000);
    const res = await call('/orders', { method: 'POST', body: payload, headers: { 'content-type': 'text/csv' } });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as SeenRequest;
    expect(seen).toMatchObject({ method: 'POST', url: '/v2', body: payload });
    expect(seen.headers['content-type']).toBe('text/csv');
  });

  test('without a key 401; a method the route does not list, or no route, is 404; a suspended tenant 403', async () => {
    const missing = await call('/orders/1', { key: null });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as any).error.code).toBe('invalid_api_key');
    expect((await call('/orders/1', { key: 'ptc_key_unknown' })).status).toBe(401);
    expect((await call('/orders/1', { method: 'DELETE' })).status).toBe(404);
    const none = await call('/ordersx');
    expect(none.status).toBe(404);
    expect(((await none.json()) as any).error.code).toBe('route_not_found');
    await t.api('PUT', '/v1/admin/tenants/acme', { name: 'Acme', status: 'SUSPENDED' });
    await until(() => t.gateway.snapshot.get('tenant', 'acme')?.status === 'SUSPENDED');
    expect((await call('/orders/1')).status).toBe(403);
    await t.api('PUT', '/v1/admin/tenants/acme', { name: 'Acme', status: 'ACTIVE' });
    await until(() => t.gateway.snapshot.get('tenant', 'acme')?.status === 'ACTIVE');
  });

  test('a route without auth_required serves anonymous callers and passes their own Authorization through', async () => {
    await route({ id: 'public', path_prefix: '/public', backend_url: backendUrl, auth_required: false });
    const res = await call('/public/x', { key: null, headers: { authorization: 'Bearer backend-token' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as SeenRequest).headers.authorization).toBe('Bearer backend-token');
  });

  test('a backend that hangs gets a 504 at the route timeout; one that is down a 502', async () => {
    const started = Date.now();
    const hung = await call('/orders/hang');
    expect(hung.status).toBe(504);
    expect(((await hung.json()) as any).error.code).toBe('upstream_timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect((await call('/orders/fail')).status).toBe(500); // the backend's own 500, passed through
    await route({ id: 'dead', tenant_id: 'acme', path_prefix: '/dead', backend_url: 'http://127.0.0.1:9' });
    const dead = await call('/dead/x');
    expect(dead.status).toBe(502);
    expect(((await dead.json()) as any).error.message).toContain('could not be reached');
  });

  test("a route's rate limit counts per key and answers 429 with headers", async () => {
    await route({ id: 'limited', tenant_id: 'acme', path_prefix: '/limited', backend_url: backendUrl, rate_limit: { limit: 2, window_secs: 60 } });
    const answers = await Promise.all([1, 2, 3].map(() => call('/limited/x')));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.headers.get('x-ratelimit-limit')).toBe('2');
    expect(refused.headers.get('retry-after')).not.toBeNull();
  });

  test('a bad service is a 400 naming the field, and nothing is stored', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'x', target_url: 'ftp://x' }, 'target_url'],
      [{ name: 'x', target_url: 'http://x', health_check_path: 'healthz' }, 'health_check_path'],
      [{ name: 'x', target_url: 'http://x', timeout_ms: 0 }, 'timeout_ms'],
      [{ target_url: 'http://x' }, 'name'],
    ];
    const before = (await t.api('GET', '/v1/admin/services')).body.data.length;
    for (const [body, path] of cases) {
      const res = await t.api('POST', '/v1/admin/services', body);
      expect([res.status, res.body.error.details[0].path]).toEqual([400, path]);
    }
    expect((await t.api('GET', '/v1/admin/services')).body.data).toHaveLength(before);
  });

  test('a service is a backend with its own timeout; its health is checked and recorded as snapshots', async () => {
    const up = await t.api('POST', '/v1/admin/services', { id: 'billing', tenant_id: 'acme', name: 'Billing', target_url: `${backendUrl}/billing`, health_check_path: '/healthz', health_check_interval_secs: 1, timeout_ms: 200 });
    expect(up.status).toBe(201);
    await t.api('POST', '/v1/admin/services', { id: 'ledger', tenant_id: 'acme', name: 'Ledger', target_url: backendUrl, health_check_path: '/down' });
    expect((await t.api('POST', '/v1/admin/routes', { tenant_id: 'acme', path_prefix: '/x', service_id: 'nope' })).body.error.details[0]).toEqual({ path: 'service_id', message: 'no service "nope" exists in tenant "acme"' });
    await route({ id: 'billing-route', tenant_id: 'acme', path_prefix: '/billing', service_id: 'billing' });
    const res = await call('/billing/invoices');
    expect(((await res.json()) as SeenRequest).url).toBe('/billing/billing/invoices');
    expect((await call('/billing/hang')).status).toBe(504); // the service's 200 ms, tighter than the route's 30 s

    await until(async () => (await t.api('GET', '/v1/admin/health-snapshots?service_id=billing')).body.data.length >= 2, 5000);
    const latest = (await t.api('GET', '/v1/admin/health-snapshots/latest')).body.data;
    expect(latest.map((s: { service_id: string; status: string }) => [s.service_id, s.status])).toEqual([['billing', 'UP'], ['ledger', 'DOWN']]);
    expect(latest[1]).toMatchObject({ status_code: 503, error: 'answered 503', tenant_id: 'acme' });
    expect(backend.seen.filter((r) => r.url === '/billing/healthz').length).toBeGreaterThanOrEqual(2);
  });

  test('every request leaves a request log, 5xx an error event that can be resolved; the key records its last use', async () => {
    await data.app.dataPlane.requestLogs.flush();
    await data.app.dataPlane.errorEvents.flush();
    await data.app.dataPlane.keyUsage.flush();
    const logs = (await t.api('GET', '/v1/admin/request-logs?tenant_id=acme&kind=http&limit=500')).body.data;
    expect(logs.length).toBeGreaterThanOrEqual(10);
    expect(logs.find((l: { path: string }) => l.path === '/orders/42/items')).toMatchObject({ tenant_id: 'acme', api_key_id: keyId, route_id: 'orders', method: 'GET', status: 200, request_id: 'req-from-client', error_code: null });
    expect(logs.find((l: { status: number }) => l.status === 429)).toMatchObject({ route_id: 'limited', error_code: 'RATE_LIMITED' });
    expect((await t.api('GET', '/v1/admin/request-logs?status=401')).body.data.length).toBeGreaterThanOrEqual(2);
    const byKey = (await t.api('GET', `/v1/admin/request-logs?api_key_id=${keyId}&limit=500`)).body.data;
    expect(byKey.length).toBe(logs.filter((l: { api_key_id: string | null }) => l.api_key_id === keyId).length);
    expect(new Set(byKey.map((l: { api_key_id: string; tenant_id: string }) => `${l.api_key_id} ${l.tenant_id}`))).toEqual(new Set([`${keyId} acme`]));
    const page = (await t.api('GET', `/v1/admin/request-logs?api_key_id=${keyId}&limit=2`)).body;
    const next = (await t.api('GET', `/v1/admin/request-logs?api_key_id=${keyId}&limit=2&cursor=${page.next_cursor}`)).body.data;
    expect([...page.data, ...next].map((l: { id: string }) => l.id)).toEqual(byKey.slice(0, 4).map((l: { id: string }) => l.id));

    const events = (await t.api('GET', '/v1/admin/error-events?tenant_id=acme&resolved=false')).body.data;
    const timeout = events.find((e: { code: string; route_id: string }) => e.code === 'UPSTREAM_TIMEOUT' && e.route_id === 'orders');
    expect(timeout).toMatchObject({ status: 504, route_id: 'orders', upstream: `${backendUrl}/v2`, resolved: false });
    expect(events.find((e: { status: number }) => e.status === 500)).toMatchObject({ code: 'UPSTREAM_ERROR', route_id: 'orders', upstream: `${backendUrl}/v2`, message: `The upstream ${backendUrl}/v2 answered 500` });
    const resolved = await t.api('POST', `/v1/admin/error-events/${timeout.id}/resolve`);
    expect(resolved.body).toMatchObject({ id: timeout.id, resolved: true });
    expect((await t.api('GET', '/v1/admin/error-events?resolved=false')).body.data.map((e: { id: string }) => e.id)).not.toContain(timeout.id);
    expect((await t.api('GET', '/v1/admin/audit/events?type=ERROR_EVENT_RESOLVED')).body.data).toHaveLength(1);

    // a failed request leaves a log line at info; a successful one only at debug
    expect(logLines.find((l) => l.msg === 'request completed' && l.status === 429)).toMatchObject({ reqId: expect.stringMatching(/^req_/), tenant: 'acme', route: 'limited', code: 'RATE_LIMITED' });
    expect(logLines.find((l) => l.reqId === 'req-from-client')).toBeUndefined();
    log.level = 'debug';
    try {
      expect((await fetch(`${data.url}/orders/1`, { headers: { authorization: `Bearer ${key}`, 'x-request-id': 'req-debug' } })).status).toBe(200);
      await until(() => logLines.some((l) => l.reqId === 'req-debug'));
    } finally {
      log.level = 'info';
    }
    expect(logLines.find((l) => l.reqId === 'req-debug')).toMatchObject({ msg: 'request completed', level: 20, status: 200, tenant: 'acme', route: 'orders' });
    expect(JSON.stringify(logLines)).not.toContain(key);

    const k = (await t.api('GET', `/v1/admin/tenants/acme/keys/${keyId}`)).body;
    expect(Date.now() - Date.parse(k.last_used_at)).toBeLessThan(60_000);
  });

  test('a client that leaves mid-request aborts the backend call and is logged as 499', async () => {
    const before = backend.seen.length;
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${data.url}/orders/hang`, { headers: { authorization: `Bearer ${key}`, 'x-request-id': 'req-leaver' } });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    await until(() => backend.seen.length > before);
    await new Promise((r) => setTimeout(r, 100));
    await data.app.dataPlane.requestLogs.flush();
    const logs = (await t.api('GET', '/v1/admin/request-logs?path=/orders/hang')).body.data;
    expect(logs.find((l: { request_id: string }) => l.request_id === 'req-leaver')).toMatchObject({ status: 499 });
  });
});
