import { NodeHeartbeat } from '../server/portal/readouts/node-heartbeat';
import { RollupJob } from '../server/portal/readouts/rollup-job';
import { testDialects } from './support/databases';
import { created, inSnapshot, uniqueId } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp } from './support/mock-http';
import { mailText, PASSWORD, portal, startSmtpCatcher } from './support/portal';

/**
 * The conformance walk of seed 004's API reference, through the real `/api/*` mount with JWTs from register and
 * login: every row (auth, routes, services, consumers and the read-outs: logs, errors, health, metrics,
 * gateway-status), in the seed's shapes, with rows made by real traffic through the data plane and the roll-up job;
 * another tenant's path is a 403 on every read-out.
 */

/** Every row of the seed's reference (errors/:id answers PATCH and POST alike). */
const SEED_ROWS = [
  'POST /api/auth/register',
  'POST /api/auth/login',
  'POST /api/auth/forgot-password',
  'POST /api/auth/reset-password',
  'GET /api/tenants/:tenantId/routes',
  'POST /api/tenants/:tenantId/routes',
  'PATCH /api/tenants/:tenantId/routes/:id',
  'DELETE /api/tenants/:tenantId/routes/:id',
  'GET /api/tenants/:tenantId/services',
  'POST /api/tenants/:tenantId/services',
  'PATCH /api/tenants/:tenantId/services/:id',
  'DELETE /api/tenants/:tenantId/services/:id',
  'GET /api/tenants/:tenantId/consumers',
  'POST /api/tenants/:tenantId/consumers',
  'DELETE /api/tenants/:tenantId/consumers/:id',
  'GET /api/tenants/:tenantId/logs',
  'GET /api/tenants/:tenantId/errors',
  'PATCH /api/tenants/:tenantId/errors/:id',
  'POST /api/tenants/:tenantId/errors/:id',
  'GET /api/tenants/:tenantId/health',
  'GET /api/tenants/:tenantId/metrics',
  'GET /api/tenants/:tenantId/gateway-status',
];

/** The seed row a request URL is of: `/api/tenants/acme/routes/rt_1?x` → `/api/tenants/:tenantId/routes/:id`. */
const rowOf = (method: string, url: string) =>
  `${method} ${url
    .split('?')[0]!
    .replace(/^\/api\/tenants\/[^/]+/, '/api/tenants/:tenantId')
    .replace(/\/(routes|services|consumers|errors)\/[^/]+$/, '/$1/:id')}`;

const METRICS_KEYS = [
  'bucketSeconds',
  'bucketStart',
  'clientErrors',
  'errors',
  'latencyP50Ms',
  'latencyP95Ms',
  'latencyP99Ms',
  'requests',
  'rolledAt',
  'tenantId',
];

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);
const REQUEST_LOG_KEYS = [
  'clientIp',
  'consumerId',
  'createdAt',
  'errorCode',
  'id',
  'kind',
  'latencyMs',
  'method',
  'path',
  'requestId',
  'routeId',
  'schemaValidation',
  'statusCode',
  'tenantId',
];
const ERROR_EVENT_KEYS = [
  'code',
  'createdAt',
  'id',
  'message',
  'requestId',
  'resolved',
  'resolvedAt',
  'routeId',
  'statusCode',
  'tenantId',
  'upstream',
];

/** PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks. */
function percentile(sorted: number[], p: number): number {
  const at = p * (sorted.length - 1);
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

describe.each(testDialects())('tenant portal read-outs and the seed walk (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let backend: MockHttp;
  let backendUrl: string;
  let smtp: Awaited<ReturnType<typeof startSmtpCatcher>>;
  let a: PortalTenant;
  let b: PortalTenant;
  let aSecondKey: { id: string; key: string };
  /** The statuses each seed row answered in this walk. */
  const walked = new Map<string, number[]>();

  interface PortalTenant {
    email: string;
    tenantId: string;
    token: string;
    key: string;
    keyId: string;
    prefix: string;
    serviceId: string;
    routeId: string;
  }

  /** A request to `/api/*` as the app serves it, noting which seed row it walked. */
  const call = async (method: string, url: string, body?: unknown, token?: string) => {
    const res = await portal(t, method, url, body, token);
    walked.set(rowOf(method, url), [...(walked.get(rowOf(method, url)) ?? []), res.status]);
    return res;
  };
  /** `who` (a tenant's session) reading under `tenant`'s path. */
  const get = (tenant: string, url: string, who: PortalTenant = tenant === b?.tenantId ? b : a) =>
    call('GET', `/api/tenants/${tenant}/${url}`, undefined, who.token);
  const send = (method: string, tenant: string, url: string, body: unknown, who = tenant === b?.tenantId ? b : a) =>
    call(method, `/api/tenants/${tenant}/${url}`, body, who.token);
  const proxy = (prefix: string, key: string, path = '/items', method = 'GET') =>
    fetch(`${data.url}${prefix}${path}`, { method, headers: { authorization: `Bearer ${key}` } }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });
  const flush = async () => {
    await data.app.dataPlane.requestLogs.flush();
    await data.app.dataPlane.errorEvents.flush();
  };

  /**
   * A team signed up through `/api/auth/register` (and, with `login`, signed in again), with a service and a route of
   * its own made through the portal, served by the data plane with the sign-up key.
   */
  const portalTenant = async (name: string, login: boolean): Promise<PortalTenant> => {
    const email = `${uniqueId('ro')}@example.com`;
    const reg = await call('POST', '/api/auth/register', { name, email, password: PASSWORD });
    expect(reg.status).toBe(201);
    const { tenantId, gatewayApiKey } = reg.body;
    let token = reg.body.token;
    if (login) {
      const signedIn = await call('POST', '/api/auth/login', { email, password: PASSWORD });
      expect(signedIn.body).toEqual({ token: expect.any(String), tenantId });
      token = signedIn.body.token;
    }
    const api = (method: string, path: string, body?: unknown) =>
      call(method, `/api/tenants/${tenantId}${path}`, body, token);
    const svc = await api('POST', '/services', { name: 'shop', targetUrl: backendUrl });
    const prefix = `/${uniqueId('shop')}`;
    const routeBody = { method: '*', pathPattern: prefix, serviceId: svc.body.id, authRequired: true };
    const route = await api('POST', '/routes', routeBody);
    expect([svc.status, route.status]).toEqual([201, 201]);
    const [first] = (await api('GET', '/consumers')).body;
    // the data plane has them before any traffic, so every request of this suite is one log row
    await inSnapshot(t, 'service', svc.body.id);
    await inSnapshot(t, 'route', route.body.id);
    await inSnapshot(t, 'api_key', first.id);
    return {
      email,
      tenantId,
      token,
      key: gatewayApiKey,
      keyId: first.id,
      prefix,
      serviceId: svc.body.id,
      routeId: route.body.id,
    };
  };

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    t = await startTestGateway(dialect, { PORTICO_SMTP_URL: smtp.url }, { webhooks: false });
    backend = new MockHttp();
    backendUrl = await backend.start();
    data = await startDataPlane(t);

    a = await portalTenant('Alpha', true);
    b = await portalTenant('Beta', false);
    const second = await send('POST', a.tenantId, 'consumers', { name: 'second' });
    expect(second.status).toBe(201);
    aSecondKey = { id: second.body.id, key: second.body.apiKey };
    await inSnapshot(t, 'api_key', aSecondKey.id);
    // tenant A: 52 good requests with its first key, 2 with its second, 2 failures (500); tenant B: 3 good, 1 failure
    for (let i = 0; i < 52; i++) expect(await proxy(a.prefix, a.key, `/items/${i}`)).toBe(200);
    for (let i = 0; i < 2; i++) expect(await proxy(a.prefix, aSecondKey.key, '/other')).toBe(200);
    for (let i = 0; i < 2; i++) expect(await proxy(a.prefix, a.key, '/fail', 'POST')).toBe(500);
    for (let i = 0; i < 3; i++) expect(await proxy(b.prefix, b.key)).toBe(200);
    expect(await proxy(b.prefix, b.key, '/fail')).toBe(500);
    await flush();
  }, 180_000); // two tenants and 60 proxied requests: slow on a busy machine
  afterAll(async () => {
    await data?.close();
    await backend?.stop();
    await t?.close();
    await smtp?.close();
  });

  test('logs: the tenant’s request-log rows in camelCase, newest first, 50 a page', async () => {
    const page1 = await get(a.tenantId, 'logs');
    const page2 = await get(a.tenantId, 'logs?page=2');
    const page3 = await get(a.tenantId, 'logs?page=3');
    expect([page1.status, page2.status, page3.status]).toEqual([200, 200, 200]);
    expect(page1.body).toHaveLength(50);
    expect(page2.body).toHaveLength(6);
    expect(page3.body).toEqual([]);
    const rows = [...page1.body, ...page2.body];
    expect(new Set(rows.map((r: any) => r.id)).size).toBe(56);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(REQUEST_LOG_KEYS);
      expect(row.tenantId).toBe(a.tenantId);
      expect([a.keyId, aSecondKey.id]).toContain(row.consumerId);
    }
    const times = rows.map((r: any) => Date.parse(r.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    const failed = rows.find((r: any) => r.statusCode === 500);
    expect(failed).toMatchObject({ method: 'POST', path: `${a.prefix}/fail`, kind: 'http', routeId: a.routeId });
    expect(typeof failed.latencyMs).toBe('number');
  });

  test('logs: filters by status, consumer, path prefix and time', async () => {
    const failures = await get(a.tenantId, 'logs?statusCode=500');
    expect(failures.body.map((r: any) => r.statusCode)).toEqual([500, 500]);
    const second = await get(a.tenantId, `logs?consumerId=${aSecondKey.id}`);
    expect(second.body).toHaveLength(2);
    expect(second.body.every((r: any) => r.consumerId === aSecondKey.id && r.path === `${a.prefix}/other`)).toBe(true);
    const byPath = await get(a.tenantId, `logs?path=${encodeURIComponent(`${a.prefix}/items/1`)}`);
    // items/1 and items/10 … items/19
    expect(byPath.body).toHaveLength(11);
    const later = await get(a.tenantId, `logs?from=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(later.body).toEqual([]);
    const earlier = await get(a.tenantId, 'logs?to=2020-01-01');
    expect(earlier.body).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    expect((await get(a.tenantId, `logs?from=${today}&to=${today}&statusCode=500`)).body).toHaveLength(2);
    // another tenant's key names none of this tenant's rows
    expect((await get(a.tenantId, `logs?consumerId=${b.keyId}`)).body).toEqual([]);
  });

  test('bad query input is a 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['logs?page=0', 'page'],
      ['logs?page=100000000', 'page'],
      ['logs?page=1e400', 'page'],
      ['logs?page=two', 'page'],
      ['logs?from=2026-02-30', 'from'],
      ['logs?to=yesterday', 'to'],
      ['logs?from=2026-05-02&to=2026-05-01', 'from'],
      ['logs?statusCode=99', 'statusCode'],
      ['logs?path=%2Fa%00b', 'path'],
      ['logs?colour=red', 'colour'],
      ['errors?resolved=maybe', 'resolved'],
      ['errors?page=-1', 'page'],
      ['metrics?period=2h', 'period'],
      ['health?x=1', 'x'],
    ];
    for (const [url, field] of cases) {
      const res = await get(a.tenantId, url);
      expect({ url, status: res.status, code: res.body?.error?.code }).toEqual({
        url,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
      expect(res.body.error.details.map((d: any) => d.path)).toContain(field);
    }
    const badBody = await send('PATCH', a.tenantId, 'errors/whatever', { resolved: false });
    expect(badBody.status).toBe(400);
    expect(badBody.body.error.details.map((d: any) => d.path)).toContain('resolved');
  });

  test('another tenant’s path is a 403 on every read-out, audited; no session is a 401; its rows never show', async () => {
    const paths: [string, string, unknown?][] = [
      ['GET', 'logs'],
      ['GET', 'logs?page=2&statusCode=500'],
      ['GET', 'errors?resolved=false'],
      ['PATCH', 'errors/x', { resolved: true }],
      ['POST', 'errors/x', { resolved: true }],
      ['GET', 'health'],
      ['GET', 'metrics?period=24h'],
      ['GET', 'gateway-status'],
    ];
    for (const [method, url, body] of paths) {
      const res = await call(method, `/api/tenants/${b.tenantId}/${url}`, body, a.token);
      expect({ method, url, status: res.status, code: res.body?.error?.code }).toEqual({
        method,
        url,
        status: 403,
        code: 'TENANT_SCOPE_VIOLATION',
      });
      // refused before the query or body is looked at
      const junkBody = method === 'GET' ? undefined : { junk: 1 };
      const junk = await call(method, `/api/tenants/${b.tenantId}/${url.split('?')[0]}?junk=1`, junkBody, a.token);
      expect({ method, url, status: junk.status }).toEqual({ method, url, status: 403 });
      const anonymous = await call(method, `/api/tenants/${b.tenantId}/${url}`, body);
      expect({ method, url, status: anonymous.status }).toEqual({ method, url, status: 401 });
    }
    const events = await t.api('GET', `/v1/admin/audit/events?type=TENANT_SCOPE_VIOLATION&tenant_id=${a.tenantId}`);
    expect(events.body.data.length).toBeGreaterThanOrEqual(paths.length * 2);
    expect(events.body.data[0]).toMatchObject({ actor: { type: 'user' }, resource: { id: b.tenantId } });
    const bLogs = await get(b.tenantId, 'logs');
    expect(bLogs.body).toHaveLength(4);
    expect(bLogs.body.every((r: any) => r.tenantId === b.tenantId && r.consumerId === b.keyId)).toBe(true);
  });

  test('errors: one event per failed request; resolving one (PATCH or POST) is 204, once, and another tenant’s is 404', async () => {
    const open = await get(a.tenantId, 'errors?resolved=false');
    expect(open.status).toBe(200);
    expect(open.body).toHaveLength(2);
    for (const e of open.body) {
      expect(Object.keys(e).sort()).toEqual(ERROR_EVENT_KEYS);
      expect(e).toMatchObject({ tenantId: a.tenantId, statusCode: 500, resolved: false, resolvedAt: null });
    }
    const logs = (await get(a.tenantId, 'logs?statusCode=500')).body.map((r: any) => r.requestId).sort();
    expect(open.body.map((e: any) => e.requestId).sort()).toEqual(logs);

    const [first, second] = open.body;
    expect((await send('PATCH', a.tenantId, `errors/${first.id}`, { resolved: true })).status).toBe(204);
    expect((await send('PATCH', a.tenantId, `errors/${first.id}`, { resolved: true })).status).toBe(204);
    expect((await send('POST', a.tenantId, `errors/${second.id}`, { resolved: true })).status).toBe(204);
    expect((await get(a.tenantId, 'errors?resolved=false')).body).toEqual([]);
    const resolved = (await get(a.tenantId, 'errors?resolved=true')).body;
    expect(resolved.map((e: any) => e.id).sort()).toEqual([first.id, second.id].sort());
    expect(resolved.every((e: any) => e.resolved && !Number.isNaN(Date.parse(e.resolvedAt)))).toBe(true);
    expect((await get(a.tenantId, 'errors?page=2')).body).toEqual([]);

    // B's event: unknown to A (404), still open for B
    const [bEvent] = (await get(b.tenantId, 'errors')).body;
    expect(bEvent.tenantId).toBe(b.tenantId);
    const cross = await send('PATCH', a.tenantId, `errors/${bEvent.id}`, { resolved: true });
    expect(cross.status).toBe(404);
    expect((await get(b.tenantId, 'errors?resolved=false')).body.map((e: any) => e.id)).toEqual([bEvent.id]);

    // the resolution is audited, once per event
    const audit = await t.api('GET', `/v1/admin/audit/events?tenant_id=${a.tenantId}&type=ERROR_EVENT_RESOLVED`);
    expect(audit.body.data.map((e: any) => e.resource.id).sort()).toEqual([first.id, second.id].sort());
  });

  test('health: the latest check of each of the tenant’s own services', async () => {
    const service = (id: string, path: string) =>
      created(t, '/v1/admin/services', {
        id,
        tenant_id: a.tenantId,
        name: id,
        target_url: backendUrl,
        health_check_path: path,
        health_check_interval_secs: 1,
      });
    await service('svc-up', '/healthz');
    await service('svc-down', '/down');
    // a service of B with the same id: its checks are B's
    await created(t, '/v1/admin/services', {
      id: 'svc-up',
      tenant_id: b.tenantId,
      name: 'b',
      target_url: backendUrl,
      health_check_path: '/down',
    });
    // two checks of each of A's services, so "latest" has something to choose from; then wait for them to be written
    await until(() => backend.seen.filter((r) => r.url === '/healthz').length >= 2, 10_000);
    await until(() => backend.seen.filter((r) => r.url === '/down').length >= 3, 10_000);
    const checked = Date.now();
    let res = await get(a.tenantId, 'health');
    await until(async () => {
      res = await get(a.tenantId, 'health');
      return res.body.length === 2 && res.body.every((h: any) => Date.parse(h.checkedAt) >= checked - 1500);
    }, 10_000);
    expect(res.status).toBe(200);
    expect(res.body.map((h: any) => [h.serviceId, h.status, h.statusCode])).toEqual([
      ['svc-down', 'DOWN', 503],
      ['svc-up', 'UP', 200],
    ]);
    for (const h of res.body) {
      expect(Object.keys(h).sort()).toEqual(
        ['checkedAt', 'error', 'id', 'latencyMs', 'serviceId', 'status', 'statusCode', 'tenantId'].sort(),
      );
      expect(h.tenantId).toBe(a.tenantId);
    }
    const all = await t.api('GET', `/v1/admin/health-snapshots?tenant_id=${a.tenantId}&service_id=svc-up&limit=500`);
    const newest = all.body.data.filter((s: any) => s.tenant_id === a.tenantId)[0];
    expect(res.body[1].checkedAt).toBe(newest.checked_at);
    const bHealth = await get(b.tenantId, 'health');
    expect(bHealth.body.map((h: any) => [h.serviceId, h.status, h.tenantId])).toEqual([['svc-up', 'DOWN', b.tenantId]]);
  });

  test('metrics: the roll-up job’s buckets match the raw rows; bounded, resumable and idempotent', async () => {
    // every bucket holding this suite's traffic has closed by then, and a few hourly ones after it
    const future = Date.now() + 3 * 3600_000;
    const opts = { settleMs: 0, lookbackMs: 0 };
    // one bucket per granularity per run; a new job (a restarted node) goes on where the last one stopped
    const first = await new RollupJob(t.gateway, { ...opts, maxBuckets: 1 }).runOnce(future);
    expect(first.map((r) => [r.granularity, r.to.getTime() - r.from.getTime()])).toEqual([
      ['5m', 300_000],
      ['1h', 3600_000],
    ]);
    const second = await new RollupJob(t.gateway, { ...opts, maxBuckets: 1 }).runOnce(future);
    expect(second.map((r) => r.from.getTime())).toEqual(first.map((r) => r.to.getTime()));
    await new RollupJob(t.gateway, opts).runOnce(future);

    for (const [tenant, period, width] of [
      [a.tenantId, '1h', 300],
      [a.tenantId, '24h', 3600],
      [b.tenantId, '7d', 3600],
    ] as const) {
      const raw = await t.api('GET', `/v1/admin/request-logs?tenant_id=${tenant}&limit=500`);
      const buckets = new Map<number, { latencies: number[]; errors: number; clientErrors: number }>();
      for (const r of raw.body.data) {
        const start = Math.floor(Date.parse(r.created_at) / (width * 1000)) * width * 1000;
        const bucket = buckets.get(start) ?? { latencies: [], errors: 0, clientErrors: 0 };
        bucket.latencies.push(r.latency_ms);
        if (r.status >= 500) bucket.errors++;
        else if (r.status >= 400) bucket.clientErrors++;
        buckets.set(start, bucket);
      }
      const res = await get(tenant, `metrics?period=${period}`);
      expect(res.status).toBe(200);
      const expected = [...buckets.entries()].sort(([x], [y]) => x - y);
      expect(res.body).toHaveLength(expected.length);
      expected.forEach(([start, bucket], i) => {
        const got = res.body[i];
        const sorted = [...bucket.latencies].sort((x, y) => x - y);
        expect(Object.keys(got).sort()).toEqual(METRICS_KEYS);
        expect(Date.parse(got.rolledAt)).not.toBeNaN();
        expect(got).toMatchObject({
          tenantId: tenant,
          bucketStart: new Date(start).toISOString(),
          bucketSeconds: width,
          requests: sorted.length,
          errors: bucket.errors,
          clientErrors: bucket.clientErrors,
        });
        expect(got.latencyP50Ms).toBeCloseTo(percentile(sorted, 0.5), 6);
        expect(got.latencyP95Ms).toBeCloseTo(percentile(sorted, 0.95), 6);
        expect(got.latencyP99Ms).toBeCloseTo(percentile(sorted, 0.99), 6);
      });
    }
    const total = (await get(a.tenantId, 'metrics?period=24h')).body.reduce((n: number, m: any) => n + m.requests, 0);
    expect(total).toBe(56);

    // running again over the same range gives the same buckets
    const before = (await get(a.tenantId, 'metrics?period=1h')).body.map(({ rolledAt: _r, ...m }: any) => m);
    await new RollupJob(t.gateway, { settleMs: 0, lookbackMs: 3 * 3600_000 }).runOnce(future);
    const after = (await get(a.tenantId, 'metrics?period=1h')).body.map(({ rolledAt: _r, ...m }: any) => m);
    expect(after).toEqual(before);
  });

  test('gateway-status: online while a fresh node reports the tenant’s current configuration version', async () => {
    const status = async (tenant: string) => {
      const res = await get(tenant, 'gateway-status');
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['online', 'tenantId']);
      expect(res.body.tenantId).toBe(tenant);
      return res.body.online as boolean;
    };
    expect(await status(a.tenantId)).toBe(false); // no node has reported
    const node = new NodeHeartbeat(t.gateway, 60_000);
    await node.beat(); // notes the version current now; claims nothing yet
    expect(await status(a.tenantId)).toBe(false);
    await node.beat(); // claims it
    expect([await status(a.tenantId), await status(b.tenantId)]).toEqual([true, true]);

    // a change to A's configuration is a version no node has confirmed yet; B's traffic is unaffected
    const third = await send('POST', a.tenantId, 'consumers', { name: 'third' });
    expect(third.status).toBe(201);
    expect([await status(a.tenantId), await status(b.tenantId)]).toEqual([false, true]);
    await node.beat();
    expect(await status(a.tenantId)).toBe(false);
    await node.beat();
    expect(await status(a.tenantId)).toBe(true);

    // a node that stops no longer counts
    await node.stop();
    expect([await status(a.tenantId), await status(b.tenantId)]).toEqual([false, false]);
  });
  test('the resource rows: services, routes and consumers listed, created, patched and deleted in the seed’s shapes', async () => {
    const api = (method: string, path: string, body?: unknown) => send(method, b.tenantId, path, body);
    const svc = await api('POST', 'services', { name: 'spare', targetUrl: `${backendUrl}/spare`, timeoutMs: 2000 });
    expect(svc.status).toBe(201);
    expect(Object.keys(svc.body).sort()).toEqual(
      [
        'createdAt',
        'deletedAt',
        'healthCheckPath',
        'id',
        'name',
        'targetUrl',
        'tenantId',
        'timeoutMs',
        'updatedAt',
      ].sort(),
    );
    const patchedSvc = await api('PATCH', `services/${svc.body.id}`, { healthCheckPath: '/ping' });
    expect([patchedSvc.status, patchedSvc.body.healthCheckPath, patchedSvc.body.timeoutMs]).toEqual([
      200,
      '/ping',
      2000,
    ]);
    // B's own services: its shop, the spare, and the one an operator made for the health test
    const services = (await api('GET', 'services')).body.map((x: any) => x.id);
    expect(services).toEqual(expect.arrayContaining([b.serviceId, svc.body.id]));

    const route = await api('POST', 'routes', {
      method: 'POST',
      pathPattern: `/${uniqueId('spare')}`,
      serviceId: svc.body.id,
      authRequired: false,
      rateLimitOverride: 10,
      enabled: false,
    });
    expect(route.status).toBe(201);
    expect(route.body).toMatchObject({ tenantId: b.tenantId, rateLimitOverride: 10, enabled: false, deletedAt: null });
    const patched = await api('PATCH', `routes/${route.body.id}`, { enabled: true, authRequired: true });
    expect(patched.body).toMatchObject({ enabled: true, authRequired: true, method: 'POST', updatedAt: ISO });
    expect((await api('GET', 'routes')).body.map((r: any) => r.id).sort()).toEqual([b.routeId, route.body.id].sort());
    const deleted = await api('DELETE', `routes/${route.body.id}`);
    expect([deleted.status, deleted.text]).toEqual([204, '']);
    expect((await api('DELETE', `services/${svc.body.id}`)).status).toBe(204);
    expect((await api('GET', 'routes')).body.map((r: any) => r.id)).toEqual([b.routeId]);
    const left = (await api('GET', 'services')).body.map((x: any) => x.id);
    expect(left.sort()).toEqual(services.filter((id: string) => id !== svc.body.id).sort());

    const consumer = await api('POST', 'consumers', { name: 'batch' });
    expect(consumer.status).toBe(201);
    expect(consumer.body).toMatchObject({
      name: 'batch',
      rateLimitTier: null,
      apiKey: expect.stringMatching(/^ptc_key_/),
    });
    expect((await api('DELETE', `consumers/${consumer.body.id}`)).status).toBe(204);
    expect((await api('GET', 'consumers')).body.map((c: any) => c.id)).toEqual([b.keyId]);
  });

  test('forgot-password and reset-password: the mailed token sets a new password once', async () => {
    const c = await portalTenant('Gamma', false);
    const forgot = await call('POST', '/api/auth/forgot-password', { email: c.email });
    expect([forgot.status, Object.keys(forgot.body)]).toEqual([200, ['message']]);
    await until(() => smtp.mails.some((m) => m.to === c.email), 5000);
    const mail = mailText(smtp.mails.find((m) => m.to === c.email)!.raw);
    const token = /(ptc_rst_[A-Za-z0-9_-]+)/.exec(mail)![1]!;
    const reset = await call('POST', '/api/auth/reset-password', { token, password: 'a brand new passphrase 9' });
    expect([reset.status, Object.keys(reset.body)]).toEqual([200, ['message']]);
    expect((await call('POST', '/api/auth/reset-password', { token, password: 'yet another one 1234' })).status).toBe(
      400,
    );
    // the old session ended with the password; the new password signs in
    expect((await call('GET', `/api/tenants/${c.tenantId}/health`, undefined, c.token)).status).toBe(401);
    const login = await call('POST', '/api/auth/login', { email: c.email, password: 'a brand new passphrase 9' });
    expect((await call('GET', `/api/tenants/${c.tenantId}/health`, undefined, login.body.token)).status).toBe(200);
  });

  // last: what the tests above walked
  test('every row of the seed’s API reference was walked with a JWT from register or login, and answered 2xx', async () => {
    const missing = SEED_ROWS.filter((row) => !(walked.get(row) ?? []).some((status) => status >= 200 && status < 300));
    expect(missing).toEqual([]);
    // and the OpenAPI document of /api/* lists each of them
    const doc = (await portal(t, 'GET', '/api/openapi.json')).body;
    for (const row of SEED_ROWS) {
      const [method, path] = row.split(' ') as [string, string];
      const openApiPath = path.replace(/:(\w+)/g, '{$1}');
      expect({ row, documented: !!doc.paths[openApiPath]?.[method.toLowerCase()] }).toEqual({ row, documented: true });
    }
  });
});
