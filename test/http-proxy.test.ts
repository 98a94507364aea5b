import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { testDialects } from './support/databases';
import { createKey, createRoute, setupTenant, uniqueId } from './support/fixtures';
import { GatedUpstream, gate, textReader } from './support/gated-upstream';
import { until, type TestGateway, startProxyBed, stopProxyBed, type TestDataPlane } from './support/gateway';
import type { MockHttp, SeenRequest } from './support/mock-http';

describe.each(testDialects())('HTTP API proxy (%s)', (dialect) => {
  let t: TestGateway;
  let data: TestDataPlane;
  let backend: MockHttp;
  let backendUrl: string;
  const call = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const { key = null, ...rest } = init;
    return fetch(`${data.url}${path}`, {
      ...rest,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(rest.headers as Record<string, string>) },
    });
  };
  /** A tenant with a key and an HTTP route of its own at a fresh prefix to the mock backend's /v2 (300 ms timeout). */
  const httpTenant = async (route: Record<string, unknown> = {}) => {
    const prefix = `/${uniqueId('orders')}`;
    const setup = await setupTenant(t, {
      route: {
        path_prefix: prefix,
        methods: ['GET', 'POST'],
        backend_url: `${backendUrl}/v2`,
        strip_prefix: true,
        timeout_ms: 300,
        ...route,
      },
    });
    return { ...setup, prefix, routeId: setup.routeId! };
  };
  const flushRecords = async () => {
    await data.app.dataPlane.requestLogs.flush();
    await data.app.dataPlane.errorEvents.flush();
    await data.app.dataPlane.keyUsage.flush();
  };

  const logLines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });

  beforeAll(
    async () => ({ t, backend, backendUrl, data } = await startProxyBed(dialect, {}, { webhooks: false, log })),
  );
  afterAll(() => stopProxyBed({ t, backend, data }));

  test('a matching request goes to the backend: prefix stripped, query kept, x-forwarded-* and request id set, the Portico key and hop-by-hop headers not forwarded', async () => {
    const { key, prefix } = await httpTenant();
    // node:http, since fetch may not set Connection
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        const headers = {
          authorization: `Bearer ${key}`,
          'x-request-id': 'req-from-client',
          connection: 'keep-alive, x-secret-hop',
          'x-secret-hop': 'no',
          'x-custom': 'yes',
          te: 'trailers',
        };
        httpRequest(`${data.url}${prefix}/42/items?expand=true`, { headers }, (r) => {
          let body = '';
          r.on('data', (c) => (body += c)).on('end', () =>
            resolve({ status: r.statusCode!, headers: r.headers, body }),
          );
        })
          .on('error', reject)
          .end();
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers['x-backend']).toBe('mock');
    expect(res.headers['x-drop-me']).toBeUndefined(); // named by the backend's Connection header: one hop only
    expect(res.headers['x-request-id']).toBe('req-from-client');
    const seen = JSON.parse(res.body) as SeenRequest;
    expect(seen.url).toBe('/v2/42/items?expand=true');
    expect(seen.headers).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': new URL(data.url).host,
      'x-request-id': 'req-from-client',
      'x-custom': 'yes',
    });
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-secret-hop']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(key);
  });

  describe('bodies stream through', () => {
    test('request bodies pass unparsed, any content type', async () => {
      const { key, prefix } = await httpTenant();
      const payload = 'a,b,c\n'.repeat(20_000);
      const res = await call(prefix, { key, method: 'POST', body: payload, headers: { 'content-type': 'text/csv' } });
      expect(res.status).toBe(200);
      const seen = (await res.json()) as SeenRequest;
      expect(seen).toMatchObject({ method: 'POST', url: '/v2', body: payload });
      expect(seen.headers['content-type']).toBe('text/csv');
    });

    test("the backend's first chunk reaches the client while the backend has not ended its response", async () => {
      const gated = new GatedUpstream({ contentType: 'text/plain', first: 'first-chunk;', rest: 'rest-of-it' });
      const gatedUrl = await gated.start();
      try {
        const { key, prefix } = await httpTenant({ backend_url: gatedUrl, timeout_ms: 30_000 });
        const res = await call(`${prefix}/report`, { key });
        expect(res.status).toBe(200);
        const body = textReader(res.body!);
        await body.readThrough('first-chunk;');
        expect(gated.ended).toBe(false); // the backend is waiting for this test: the chunk was not held back
        gated.release.open();
        expect(await body.rest()).toBe('first-chunk;rest-of-it');
        expect(gated.ended).toBe(true);
      } finally {
        await gated.stop();
      }
    });

    test("the client's first chunk reaches the backend while the client has not ended its request", async () => {
      const firstArrived = gate();
      let clientEnded = false;
      let arrivedBeforeEnd: boolean | undefined;
      const server = createServer((req, res) => {
        let received = '';
        req.on('data', (c: Buffer) => {
          if (arrivedBeforeEnd === undefined) arrivedBeforeEnd = !clientEnded;
          received += c.toString('utf8');
          firstArrived.open();
        });
        req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(received));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const { key, prefix } = await httpTenant({
          backend_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          timeout_ms: 30_000,
        });
        const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest(
            `${data.url}${prefix}/upload`,
            {
              method: 'POST',
              headers: {
                authorization: `Bearer ${key}`,
                'content-type': 'application/octet-stream',
                'transfer-encoding': 'chunked',
              },
            },
            (r) => {
              let body = '';
              r.on('data', (c) => (body += c)).on('end', () => resolve({ status: r.statusCode!, body }));
            },
          );
          req.on('error', reject);
          req.write('first-part;');
          // a buffering gateway would pass nothing on before the end: end anyway after 5 s, so it fails, not hangs
          const failsafe = setTimeout(firstArrived.open, 5000);
          void firstArrived.opened.then(() => {
            clearTimeout(failsafe);
            clientEnded = true;
            req.end('last-part');
          });
        });
        expect(await answer).toEqual({ status: 200, body: 'first-part;last-part' });
        expect(arrivedBeforeEnd).toBe(true);
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });
  });

  describe('refusals', () => {
    test('without a key, or with an unknown one, 401 invalid_api_key', async () => {
      const { prefix } = await httpTenant();
      const missing = await call(`${prefix}/1`);
      expect(missing.status).toBe(401);
      expect(((await missing.json()) as any).error.code).toBe('invalid_api_key');
      expect((await call(`${prefix}/1`, { key: 'ptc_key_unknown' })).status).toBe(401);
    });

    test('a method the route does not list is a 404', async () => {
      const { key, prefix } = await httpTenant();
      expect((await call(`${prefix}/1`, { key, method: 'DELETE' })).status).toBe(404);
    });

    test('a path no route serves (the prefix with letters added, not at a segment boundary) is a 404 route_not_found', async () => {
      const { key, prefix } = await httpTenant();
      const none = await call(`${prefix}x`, { key });
      expect(none.status).toBe(404);
      expect(((await none.json()) as any).error.code).toBe('route_not_found');
    });

    test('a suspended tenant is a 403', async () => {
      const { key, prefix, tenantId } = await httpTenant();
      await t.api('PUT', `/v1/admin/tenants/${tenantId}`, { name: 'Acme', status: 'SUSPENDED' });
      await until(() => t.gateway.snapshot.get('tenant', tenantId)?.status === 'SUSPENDED');
      expect((await call(`${prefix}/1`, { key })).status).toBe(403);
    });
  });

  test('a route without auth_required serves anonymous callers and passes their own Authorization through', async () => {
    const prefix = `/${uniqueId('public')}`;
    await createRoute(t, null, { path_prefix: prefix, backend_url: backendUrl, auth_required: false });
    const res = await call(`${prefix}/x`, { headers: { authorization: 'Bearer backend-token' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as SeenRequest).headers.authorization).toBe('Bearer backend-token');
  });

  describe('backends that fail', () => {
    test('a backend that hangs gets a 504 at the route timeout', async () => {
      const { key, prefix } = await httpTenant();
      const started = Date.now();
      const hung = await call(`${prefix}/hang`, { key });
      expect(hung.status).toBe(504);
      expect(((await hung.json()) as any).error.code).toBe('upstream_timeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    });

    test("the backend's own 500 is passed through", async () => {
      const { key, prefix } = await httpTenant();
      expect((await call(`${prefix}/fail`, { key })).status).toBe(500);
    });

    test('a backend that is down is a 502', async () => {
      const { key, prefix } = await httpTenant({ backend_url: 'http://127.0.0.1:9' });
      const dead = await call(`${prefix}/x`, { key });
      expect(dead.status).toBe(502);
      expect(((await dead.json()) as any).error.message).toContain('could not be reached');
    });
  });

  test("a route's rate limit counts per key and answers 429 with headers", async () => {
    const { key, prefix, tenantId } = await httpTenant({ rate_limit: { limit: 2, window_secs: 60 } });
    const answers = await Promise.all([1, 2, 3].map(() => call(`${prefix}/x`, { key })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.headers.get('x-ratelimit-limit')).toBe('2');
    expect(refused.headers.get('retry-after')).not.toBeNull();
    const other = await createKey(t, tenantId);
    expect((await call(`${prefix}/x`, { key: other.key })).status).toBe(200);
  });

  test('a bad service is a 400 naming the field, and nothing is stored', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'x', target_url: 'ftp://x' }, 'target_url'],
      [{ name: 'x', target_url: 'http://x', health_check_path: 'healthz' }, 'health_check_path'],
      [{ name: 'x', target_url: 'http://x', timeout_ms: 0 }, 'timeout_ms'],
      [{ target_url: 'http://x' }, 'name'],
    ];
    const before = (await t.api('GET', '/v1/admin/services?limit=500')).body.data.length;
    for (const [body, path] of cases) {
      const res = await t.api('POST', '/v1/admin/services', body);
      expect([res.status, res.body.error.details[0].path]).toEqual([400, path]);
    }
    expect((await t.api('GET', '/v1/admin/services?limit=500')).body.data).toHaveLength(before);
  });

  describe('services', () => {
    test('a route naming a service that does not exist in its tenant is a 400', async () => {
      const { tenantId } = await setupTenant(t);
      const res = await t.api('POST', '/v1/admin/routes', {
        tenant_id: tenantId,
        path_prefix: `/${uniqueId('x')}`,
        service_id: 'nope',
      });
      expect(res.body.error.details[0]).toEqual({
        path: 'service_id',
        message: `no service "nope" exists in tenant "${tenantId}"`,
      });
    });

    test('a service is a backend with its own timeout, tighter than the route default', async () => {
      const { tenantId, key } = await setupTenant(t);
      const service = await t.api('POST', '/v1/admin/services', {
        tenant_id: tenantId,
        name: 'Billing',
        target_url: `${backendUrl}/billing`,
        timeout_ms: 200,
      });
      expect(service.status).toBe(201);
      const prefix = `/${uniqueId('billing')}`;
      await createRoute(t, tenantId, { path_prefix: prefix, service_id: service.body.id });
      const res = await call(`${prefix}/invoices`, { key });
      expect(((await res.json()) as SeenRequest).url).toBe(`/billing${prefix}/invoices`);
      expect((await call(`${prefix}/hang`, { key })).status).toBe(504); // the service's 200 ms, tighter than the route's 30 s
    });

    test("a service's health is checked and recorded as snapshots", async () => {
      const { tenantId } = await setupTenant(t);
      const up = await t.api('POST', '/v1/admin/services', {
        id: uniqueId('billing'),
        tenant_id: tenantId,
        name: 'Billing',
        target_url: `${backendUrl}/billing`,
        health_check_path: '/healthz',
        health_check_interval_secs: 1,
      });
      expect(up.status).toBe(201);
      const down = await t.api('POST', '/v1/admin/services', {
        id: uniqueId('ledger'),
        tenant_id: tenantId,
        name: 'Ledger',
        target_url: backendUrl,
        health_check_path: '/down',
      });
      expect(down.status).toBe(201);
      await until(
        async () => (await t.api('GET', `/v1/admin/health-snapshots?service_id=${up.body.id}`)).body.data.length >= 2,
        5000,
      );
      const latest = (await t.api('GET', `/v1/admin/health-snapshots/latest?tenant_id=${tenantId}`)).body.data;
      const byService = Object.fromEntries(latest.map((s: { service_id: string }) => [s.service_id, s]));
      expect(Object.keys(byService).sort()).toEqual([up.body.id, down.body.id].sort());
      expect(byService[up.body.id]).toMatchObject({ status: 'UP' });
      expect(byService[down.body.id]).toMatchObject({
        status: 'DOWN',
        status_code: 503,
        error: 'answered 503',
        tenant_id: tenantId,
      });
      expect(backend.seen.filter((r) => r.url === '/billing/healthz').length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('what a request leaves behind', () => {
    test('a request log with its tenant, key, route, method, status and request id', async () => {
      const { key, keyId, prefix, tenantId, routeId } = await httpTenant();
      const requestId = uniqueId('req');
      expect((await call(`${prefix}/42/items`, { key, headers: { 'x-request-id': requestId } })).status).toBe(200);
      expect((await call(prefix, { key, method: 'POST', body: 'x' })).status).toBe(200);
      await flushRecords();
      const logs = (await t.api('GET', `/v1/admin/request-logs?tenant_id=${tenantId}&kind=http&limit=500`)).body.data;
      expect(logs).toHaveLength(2);
      expect(logs.find((l: { path: string }) => l.path === `${prefix}/42/items`)).toMatchObject({
        tenant_id: tenantId,
        api_key_id: keyId,
        route_id: routeId,
        method: 'GET',
        status: 200,
        request_id: requestId,
        error_code: null,
      });
    });

    test('a refused request is logged with its error code', async () => {
      const { key, prefix, tenantId, routeId } = await httpTenant({ rate_limit: { limit: 1, window_secs: 60 } });
      await call(`${prefix}/x`, { key });
      expect((await call(`${prefix}/x`, { key })).status).toBe(429);
      await flushRecords();
      const logs = (await t.api('GET', `/v1/admin/request-logs?tenant_id=${tenantId}&status=429`)).body.data;
      expect(logs).toEqual([expect.objectContaining({ route_id: routeId, error_code: 'RATE_LIMITED' })]);
    });

    test('a request without a valid key is logged as a 401', async () => {
      const { prefix } = await httpTenant();
      await call(`${prefix}/1`);
      await call(`${prefix}/1`, { key: 'ptc_key_unknown' });
      await flushRecords();
      expect((await t.api('GET', `/v1/admin/request-logs?status=401&path=${prefix}`)).body.data).toHaveLength(2);
    });

    test("logs filter by key (that key's requests only) and page by cursor", async () => {
      const { key, keyId, prefix, tenantId } = await httpTenant();
      const other = await createKey(t, tenantId);
      for (let i = 0; i < 5; i++) await call(`${prefix}/${i}`, { key });
      for (let i = 0; i < 2; i++) await call(`${prefix}/${i}`, { key: other.key });
      await flushRecords();
      const byKey = (await t.api('GET', `/v1/admin/request-logs?api_key_id=${keyId}&limit=500`)).body.data;
      expect(byKey).toHaveLength(5);
      expect(
        new Set(byKey.map((l: { api_key_id: string; tenant_id: string }) => `${l.api_key_id} ${l.tenant_id}`)),
      ).toEqual(new Set([`${keyId} ${tenantId}`]));
      const page = (await t.api('GET', `/v1/admin/request-logs?api_key_id=${keyId}&limit=2`)).body;
      const next = (await t.api('GET', `/v1/admin/request-logs?api_key_id=${keyId}&limit=2&cursor=${page.next_cursor}`))
        .body.data;
      expect([...page.data, ...next].map((l: { id: string }) => l.id)).toEqual(
        byKey.slice(0, 4).map((l: { id: string }) => l.id),
      );
    });

    test('a 5xx leaves an error event, which can be resolved with an audit event', async () => {
      const { key, prefix, tenantId, routeId } = await httpTenant();
      expect((await call(`${prefix}/hang`, { key })).status).toBe(504);
      expect((await call(`${prefix}/fail`, { key })).status).toBe(500);
      await flushRecords();
      const events = (await t.api('GET', `/v1/admin/error-events?tenant_id=${tenantId}&resolved=false`)).body.data;
      const timeout = events.find((e: { code: string }) => e.code === 'UPSTREAM_TIMEOUT');
      expect(timeout).toMatchObject({ status: 504, route_id: routeId, upstream: `${backendUrl}/v2`, resolved: false });
      expect(events.find((e: { status: number }) => e.status === 500)).toMatchObject({
        code: 'UPSTREAM_ERROR',
        route_id: routeId,
        upstream: `${backendUrl}/v2`,
        message: `The upstream ${backendUrl}/v2 answered 500`,
      });
      const resolved = await t.api('POST', `/v1/admin/error-events/${timeout.id}/resolve`);
      expect(resolved.body).toMatchObject({ id: timeout.id, resolved: true });
      expect(
        (await t.api('GET', `/v1/admin/error-events?tenant_id=${tenantId}&resolved=false`)).body.data.map(
          (e: { id: string }) => e.id,
        ),
      ).not.toContain(timeout.id);
      expect(
        (await t.api('GET', `/v1/admin/audit/events?type=ERROR_EVENT_RESOLVED&tenant_id=${tenantId}`)).body.data,
      ).toHaveLength(1);
    });

    test('a failed request leaves a log line at info; a successful one only at debug; never the key', async () => {
      const { key, prefix, tenantId, routeId } = await httpTenant({ rate_limit: { limit: 1, window_secs: 60 } });
      const [okId, refusedId, debugId] = [uniqueId('req-ok'), uniqueId('req-refused'), uniqueId('req-debug')];
      expect((await call(`${prefix}/1`, { key, headers: { 'x-request-id': okId } })).status).toBe(200);
      expect((await call(`${prefix}/1`, { key, headers: { 'x-request-id': refusedId } })).status).toBe(429);
      await until(() => logLines.some((l) => l.reqId === refusedId));
      expect(logLines.find((l) => l.reqId === refusedId)).toMatchObject({
        msg: 'request completed',
        status: 429,
        tenant: tenantId,
        route: routeId,
        code: 'RATE_LIMITED',
      });
      expect(logLines.find((l) => l.reqId === okId)).toBeUndefined();
      const debugRoute = await httpTenant();
      log.level = 'debug';
      try {
        expect(
          (await call(`${debugRoute.prefix}/1`, { key: debugRoute.key, headers: { 'x-request-id': debugId } })).status,
        ).toBe(200);
        await until(() => logLines.some((l) => l.reqId === debugId));
      } finally {
        log.level = 'info';
      }
      expect(logLines.find((l) => l.reqId === debugId)).toMatchObject({
        msg: 'request completed',
        level: 20,
        status: 200,
        tenant: debugRoute.tenantId,
        route: debugRoute.routeId,
      });
      expect(JSON.stringify(logLines)).not.toContain(key);
      expect(JSON.stringify(logLines)).not.toContain(debugRoute.key);
    });

    test('the key records its last use', async () => {
      const { key, keyId, prefix, tenantId } = await httpTenant();
      expect((await t.api('GET', `/v1/admin/tenants/${tenantId}/keys/${keyId}`)).body.last_used_at).toBeNull();
      expect((await call(`${prefix}/1`, { key })).status).toBe(200);
      await flushRecords();
      const k = (await t.api('GET', `/v1/admin/tenants/${tenantId}/keys/${keyId}`)).body;
      expect(Date.now() - Date.parse(k.last_used_at)).toBeLessThan(60_000);
    });

    test('a client that leaves mid-request aborts the backend call and is logged as 499', async () => {
      const { key, prefix } = await httpTenant();
      const before = backend.seen.length;
      const requestId = uniqueId('req-leaver');
      await new Promise<void>((resolve) => {
        const req = httpRequest(`${data.url}${prefix}/hang`, {
          headers: { authorization: `Bearer ${key}`, 'x-request-id': requestId },
        });
        req.on('error', () => resolve());
        req.end();
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 100);
      });
      await until(() => backend.seen.length > before);
      await new Promise((r) => setTimeout(r, 100));
      await flushRecords();
      const logs = (await t.api('GET', `/v1/admin/request-logs?path=${prefix}/hang`)).body.data;
      expect(logs.find((l: { request_id: string }) => l.request_id === requestId)).toMatchObject({ status: 499 });
    });
  });
});
