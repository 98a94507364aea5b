import type { FastifyInstance } from 'fastify';
import { buildAdminApp } from '../server/control/admin-app';
import { ApiError } from '../server/errors';
import { NodeHeartbeat } from '../server/portal/readouts/node-heartbeat';
import { RollupJob } from '../server/portal/readouts/rollup-job';
import { portalReadoutRoutes } from '../server/portal/readouts/routes';
import { testDialects } from './support/databases';
import { created, createKey, setupTenant, uniqueId, type TenantSetup } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp } from './support/mock-http';

/** Only this suite's server reads the caller's tenant from a header: the product's `tenantOf` reads the JWT. */
const TEST_TENANT_HEADER = 'x-test-tenant';

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

describe.each(testDialects())('tenant portal read-outs (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let backend: MockHttp;
  let backendUrl: string;
  let portal: FastifyInstance;
  let a: TenantSetup & { prefix: string };
  let b: TenantSetup & { prefix: string };
  let aSecondKey: { id: string; key: string };

  const get = async (tenant: string, url: string, as = tenant) => {
    const res = await portal.inject({
      method: 'GET',
      url: `/test-api/tenants/${tenant}/${url}`,
      headers: { [TEST_TENANT_HEADER]: as },
    });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };
  const send = async (method: 'PATCH' | 'POST', tenant: string, url: string, body: unknown, as = tenant) => {
    const res = await portal.inject({
      method,
      url: `/test-api/tenants/${tenant}/${url}`,
      headers: { [TEST_TENANT_HEADER]: as, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };
  const proxy = (prefix: string, key: string, path = '/items', method = 'GET') =>
    fetch(`${data.url}${prefix}${path}`, { method, headers: { authorization: `Bearer ${key}` } }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });
  const flush = async () => {
    await data.app.dataPlane.requestLogs.flush();
    await data.app.dataPlane.errorEvents.flush();
  };
  const httpTenant = async () => {
    const prefix = `/${uniqueId('shop')}`;
    const route = { path_prefix: prefix, methods: ['GET', 'POST'], backend_url: backendUrl, strip_prefix: true };
    return { ...(await setupTenant(t, { route })), prefix };
  };

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    backend = new MockHttp();
    backendUrl = await backend.start();
    data = await startDataPlane(t);
    portal = buildAdminApp(t.gateway);
    portal.register(portalReadoutRoutes, {
      prefix: '/test-api', // the real /api/* mounts it behind portal sessions (test/portal-resources.test.ts)
      gw: t.gateway,
      tenantOf: async (req) => {
        const tenant = req.headers[TEST_TENANT_HEADER];
        if (typeof tenant !== 'string') throw new ApiError('UNAUTHORIZED', 'no test tenant');
        return tenant;
      },
    });
    await portal.ready();

    a = await httpTenant();
    b = await httpTenant();
    aSecondKey = await createKey(t, a.tenantId, { name: 'second' });
    // tenant A: 52 good requests with its first key, 2 with its second, 2 failures (500); tenant B: 3 good, 1 failure
    for (let i = 0; i < 52; i++) expect(await proxy(a.prefix, a.key, `/items/${i}`)).toBe(200);
    for (let i = 0; i < 2; i++) expect(await proxy(a.prefix, aSecondKey.key, '/other')).toBe(200);
    for (let i = 0; i < 2; i++) expect(await proxy(a.prefix, a.key, '/fail', 'POST')).toBe(500);
    for (let i = 0; i < 3; i++) expect(await proxy(b.prefix, b.key)).toBe(200);
    expect(await proxy(b.prefix, b.key, '/fail')).toBe(500);
    await flush();
  }, 180_000); // two tenants and 60 proxied requests: slow on a busy machine
  afterAll(async () => {
    await portal?.close();
    await data?.close();
    await backend?.stop();
    await t?.close();
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

  test('another tenant’s path is refused, and its rows never show', async () => {
    for (const url of ['logs', 'errors', 'health', 'metrics', 'gateway-status']) {
      const res = await get(b.tenantId, url, a.tenantId);
      expect({ url, status: res.status, code: res.body?.error?.code }).toEqual({
        url,
        status: 403,
        code: 'TENANT_SCOPE_VIOLATION',
      });
    }
    expect((await send('POST', b.tenantId, 'errors/x', { resolved: true }, a.tenantId)).status).toBe(403);
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
    await createKey(t, a.tenantId, { name: 'third' });
    expect([await status(a.tenantId), await status(b.tenantId)]).toEqual([false, true]);
    await node.beat();
    expect(await status(a.tenantId)).toBe(false);
    await node.beat();
    expect(await status(a.tenantId)).toBe(true);

    // a node that stops no longer counts
    await node.stop();
    expect([await status(a.tenantId), await status(b.tenantId)]).toEqual([false, false]);
  });
});
