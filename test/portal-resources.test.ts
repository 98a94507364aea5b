import { testDialects } from './support/databases';
import { uniqueId } from './support/fixtures';
import { until, type TestGateway, startProxyBed, stopProxyBed, type TestDataPlane } from './support/gateway';
import type { MockHttp } from './support/mock-http';
import { portal, signUp } from './support/portal';

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);

/**
 * Seed 004's resource rows (routes, services, consumers) against a live gateway, in the seed's camelCase shapes: each
 * row's verb, status and shape; the data plane following every change at once; soft delete seen alike by the portal,
 * the admin API and the export; and another tenant's path refused (403, audited) on every row.
 */
describe.each(testDialects())('portal resources (%s)', (dialect) => {
  let t: TestGateway;
  let data: TestDataPlane;
  let backend: MockHttp;
  let backendUrl: string;
  const email = () => `${uniqueId('ops')}@example.com`;
  const proxied = (path: string, key?: string) =>
    fetch(`${data.url}${path}`, { headers: key ? { 'x-api-key': key } : {} }).then((r) => r.status);

  beforeAll(async () => ({ t, backend, backendUrl, data } = await startProxyBed(dialect, {}, { webhooks: false })));
  afterAll(() => stopProxyBed({ t, backend, data }));

  test('the seed walk: services, routes and consumers in camelCase, each change served at once', async () => {
    const { token, tenantId, gatewayApiKey } = await signUp(t, email(), 'Walk');
    const api = (method: string, path: string, body?: unknown) =>
      portal(t, method, `/api/tenants/${tenantId}${path}`, body, token);
    const prefix = `/${uniqueId('shop')}`;

    // services: create, list, partial update
    const svc = await api('POST', '/services', {
      name: 'orders',
      targetUrl: `${backendUrl}/v1`,
      healthCheckPath: '/health',
    });
    expect(svc.status).toBe(201);
    expect(svc.body).toEqual({
      id: expect.stringMatching(/^svc_[0-9a-f]{24}$/),
      tenantId,
      name: 'orders',
      targetUrl: `${backendUrl}/v1`,
      healthCheckPath: '/health',
      timeoutMs: 30000,
      createdAt: ISO,
      updatedAt: ISO,
      deletedAt: null,
    });
    const patchedSvc = await api('PATCH', `/services/${svc.body.id}`, { timeoutMs: 5000 });
    expect(patchedSvc.status).toBe(200);
    expect(patchedSvc.body).toMatchObject({ name: 'orders', healthCheckPath: '/health', timeoutMs: 5000 });
    expect((await api('GET', '/services')).body).toEqual([patchedSvc.body]);

    // routes: create, list, partial update; the data plane serves it with the sign-up key
    const body = { method: 'GET', pathPattern: prefix, serviceId: svc.body.id, authRequired: true };
    const route = await api('POST', '/routes', body);
    expect(route.status).toBe(201);
    expect(route.body).toEqual({
      id: expect.stringMatching(/^rt_[0-9a-f]{24}$/),
      tenantId,
      ...body,
      rateLimitOverride: null,
      enabled: true,
      createdAt: ISO,
      updatedAt: ISO,
      deletedAt: null,
    });
    await until(async () => (await proxied(`${prefix}/items`, gatewayApiKey)) === 200, 3000);
    expect(await proxied(`${prefix}/items`)).toBe(401);
    const patched = await api('PATCH', `/routes/${route.body.id}`, { method: '*', rateLimitOverride: 100 });
    expect(patched.body).toMatchObject({ ...body, method: '*', rateLimitOverride: 100, enabled: true });
    const admin = (await t.api('GET', `/v1/admin/routes/${route.body.id}`)).body;
    expect(admin).toMatchObject({ path_prefix: prefix, methods: [], rate_limit: { limit: 100, window_secs: 60 } });
    expect((await api('GET', '/routes')).body).toEqual([patched.body]);

    // consumers: the key is shown once, works at once, and stops at once when revoked
    const consumer = await api('POST', '/consumers', { name: 'mobile app' });
    expect(consumer.status).toBe(201);
    expect(consumer.body).toEqual({
      id: expect.stringMatching(/^key_/),
      tenantId,
      name: 'mobile app',
      rateLimitTier: null,
      keyPrefix: expect.any(String),
      lastUsedAt: null,
      createdAt: ISO,
      revokedAt: null,
      apiKey: expect.stringMatching(/^ptc_key_/),
    });
    const listed = (await api('GET', '/consumers')).body;
    expect(listed.map((c: any) => c.name).sort()).toEqual(['default', 'mobile app']);
    expect(JSON.stringify(listed)).not.toContain(consumer.body.apiKey);
    await until(async () => (await proxied(`${prefix}/a`, consumer.body.apiKey)) === 200, 3000);
    const revoke = await api('DELETE', `/consumers/${consumer.body.id}`);
    expect([revoke.status, revoke.text]).toEqual([204, '']);
    await until(async () => (await proxied(`${prefix}/a`, consumer.body.apiKey)) === 401, 3000);
    expect((await api('GET', '/consumers')).body.map((c: any) => c.name)).toEqual(['default']);
    expect((await api('DELETE', `/consumers/${consumer.body.id}`)).status).toBe(404);

    // soft-deleting the service fails its routes until they are given another
    expect((await api('DELETE', `/services/${svc.body.id}`)).status).toBe(204);
    await until(async () => (await proxied(`${prefix}/x`, gatewayApiKey)) === 503, 3000);
    expect((await api('GET', '/services')).body).toEqual([]);
    const refused = await api('PATCH', `/routes/${route.body.id}`, { serviceId: svc.body.id });
    expect(refused.body.error.details).toEqual([{ path: 'serviceId', message: `no service "${svc.body.id}" exists` }]);
    const other = await api('POST', '/services', { name: 'orders v2', targetUrl: `${backendUrl}/v2` });
    expect((await api('PATCH', `/routes/${route.body.id}`, { serviceId: other.body.id })).status).toBe(200);
    await until(async () => (await proxied(`${prefix}/x`, gatewayApiKey)) === 200, 3000);

    // soft-deleting the route: 204, gone from the list, no longer served
    expect((await api('DELETE', `/routes/${route.body.id}`)).status).toBe(204);
    expect((await api('GET', '/routes')).body).toEqual([]);
    await until(async () => (await proxied(`${prefix}/x`, gatewayApiKey)) === 404, 3000);
    expect((await api('PATCH', `/routes/${route.body.id}`, { enabled: true })).status).toBe(404);
  });

  test('soft delete shows the same in the admin API and the export', async () => {
    const { token, tenantId } = await signUp(t, email(), 'Soft');
    const api = (method: string, path: string, body?: unknown) =>
      portal(t, method, `/api/tenants/${tenantId}${path}`, body, token);
    const svc = (await api('POST', '/services', { name: 's', targetUrl: `${backendUrl}/s` })).body;
    const prefix = `/${uniqueId('soft')}`;
    const route = (
      await api('POST', '/routes', { method: 'POST', pathPattern: prefix, serviceId: svc.id, authRequired: false })
    ).body;
    await api('DELETE', `/routes/${route.id}`);
    await api('DELETE', `/services/${svc.id}`);
    const adminRoute = (await t.api('GET', `/v1/admin/routes/${route.id}`)).body;
    const adminSvc = (await t.api('GET', `/v1/admin/services/${svc.id}`)).body;
    expect(adminRoute).toMatchObject({ enabled: false, deleted_at: ISO, path_prefix: prefix });
    expect(adminSvc).toMatchObject({ deleted_at: ISO });
    const listed = (await t.api('GET', `/v1/admin/routes?tenant_id=${tenantId}`)).body.data;
    expect(listed.find((r: any) => r.id === route.id).deleted_at).toBe(adminRoute.deleted_at);
    const exported = (await t.api('GET', `/v1/admin/config/export?tenant_id=${tenantId}`)).body;
    expect(exported.routes.find((r: any) => r.id === route.id)).toMatchObject({
      enabled: false,
      deleted_at: adminRoute.deleted_at,
    });
    expect(exported.services.find((s: any) => s.id === svc.id)).toMatchObject({ deleted_at: adminSvc.deleted_at });
    // re-importing the export changes nothing; enabling a deleted route is refused
    const again = await t.api(
      'POST',
      `/v1/admin/config/import?mode=merge&dry_run=true&tenant_id=${tenantId}`,
      exported,
    );
    expect(again.body).toMatchObject({ created: [], updated: [], deleted: [] });
    const { id: _i, tenant_id: _t, version: _v, created_at: _c, updated_at: _u, ...fields } = adminRoute;
    const enable = await t.api('PUT', `/v1/admin/routes/${route.id}`, { ...fields, enabled: true });
    expect(enable.status).toBe(400);
    expect(enable.body.error.details).toEqual([
      { path: 'enabled', message: 'a deleted route (deleted_at set) cannot be enabled' },
    ]);
    // an operator restores the service: PUT without deleted_at; the portal sees it again
    const { id: _j, tenant_id: _k, created_at: _d, updated_at: _w, deleted_at: _x, ...svcFields } = adminSvc;
    expect((await t.api('PUT', `/v1/admin/services/${svc.id}?tenant_id=${tenantId}`, svcFields)).status).toBe(200);
    expect((await api('GET', '/services')).body.map((s: any) => s.id)).toEqual([svc.id]);
  });

  test("another tenant's path is a 403 on every row, audited; errors name the portal's fields", async () => {
    const a = await signUp(t, email(), 'Alpha');
    const b = await signUp(t, email(), 'Beta');
    const bSvc = (
      await portal(
        t,
        'POST',
        `/api/tenants/${b.tenantId}/services`,
        { name: 'b', targetUrl: `${backendUrl}/b` },
        b.token,
      )
    ).body;
    const rows: [string, string, unknown?][] = [
      ['GET', 'routes'],
      ['POST', 'routes', { method: 'GET', pathPattern: '/x', serviceId: bSvc.id, authRequired: true }],
      ['PATCH', 'routes/rt_1', { enabled: false }],
      ['DELETE', 'routes/rt_1'],
      ['GET', 'services'],
      ['POST', 'services', { name: 'x', targetUrl: 'https://example.com' }],
      ['PATCH', 'services/svc_1', { name: 'y' }],
      ['DELETE', 'services/svc_1'],
      ['GET', 'consumers'],
      ['POST', 'consumers', { name: 'x' }],
      ['DELETE', 'consumers/key_1'],
    ];
    for (const [method, path, body] of rows) {
      const res = await portal(
        t,
        method,
        `/api/tenants/${b.tenantId}/${path}`,
        body ?? (method === 'POST' ? {} : undefined),
        a.token,
      );
      expect([method, path, res.status, res.body?.error?.code]).toEqual([method, path, 403, 'TENANT_SCOPE_VIOLATION']);
      const bad = await portal(t, method, `/api/tenants/${b.tenantId}/${path}`, { nonsense: 1 }, a.token);
      expect([method, path, bad.status]).toEqual([method, path, 403]); // before the body is looked at
      expect((await portal(t, method, `/api/tenants/${b.tenantId}/${path}`, body)).status).toBe(401);
    }
    const events = (await t.api('GET', `/v1/admin/audit/events?type=TENANT_SCOPE_VIOLATION&tenant_id=${a.tenantId}`))
      .body.data;
    expect(events[0]).toMatchObject({
      actor: { type: 'user', name: expect.stringContaining('@') },
      resource: { id: b.tenantId },
    });
    // b's service cannot be named by a's route either (a 400, as if it did not exist)
    const cross = await portal(
      t,
      'POST',
      `/api/tenants/${a.tenantId}/routes`,
      { method: 'GET', pathPattern: '/a', serviceId: bSvc.id, authRequired: true },
      a.token,
    );
    expect(cross.body.error.details).toEqual([{ path: 'serviceId', message: `no service "${bSvc.id}" exists` }]);
    const aSvc = (
      await portal(
        t,
        'POST',
        `/api/tenants/${a.tenantId}/services`,
        { name: 'a', targetUrl: `${backendUrl}/a` },
        a.token,
      )
    ).body;
    const badPath = await portal(
      t,
      'POST',
      `/api/tenants/${a.tenantId}/routes`,
      { method: 'GET', pathPattern: 'no-slash', serviceId: aSvc.id, authRequired: true },
      a.token,
    );
    expect(badPath.status).toBe(400);
    expect(badPath.body.error.details[0].path).toBe('pathPattern');
    expect(
      (await portal(t, 'PATCH', `/api/tenants/${a.tenantId}/services/${bSvc.id}`, { name: 'z' }, a.token)).status,
    ).toBe(404);
    expect(
      (await portal(t, 'PATCH', `/api/tenants/${a.tenantId}/services/${aSvc.id}`, { id: 'other' }, a.token)).body.error
        .details,
    ).toEqual([{ path: 'id', message: 'is read-only' }]);
  });

  test('a viewer reads but does not write; the OpenAPI document covers /api/*', async () => {
    const { tenantId } = await signUp(t, email(), 'Roles');
    const address = email();
    await t.api('POST', '/v1/admin/users', {
      email: address,
      name: 'V',
      role: 'viewer',
      tenant_id: tenantId,
      password: 'viewer passphrase 12',
    });
    const viewer = (await portal(t, 'POST', '/api/auth/login', { email: address, password: 'viewer passphrase 12' }))
      .body.token;
    expect((await portal(t, 'GET', `/api/tenants/${tenantId}/services`, undefined, viewer)).status).toBe(200);
    const write = await portal(
      t,
      'POST',
      `/api/tenants/${tenantId}/services`,
      { name: 'v', targetUrl: 'https://example.com' },
      viewer,
    );
    expect([write.status, write.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const doc = (await portal(t, 'GET', '/api/openapi.json')).body;
    expect(Object.keys(doc.paths).sort()).toEqual(
      expect.arrayContaining([
        '/api/auth/register',
        '/api/auth/login',
        '/api/auth/forgot-password',
        '/api/auth/reset-password',
        '/api/tenants/{tenantId}/routes',
        '/api/tenants/{tenantId}/routes/{id}',
        '/api/tenants/{tenantId}/services',
        '/api/tenants/{tenantId}/services/{id}',
        '/api/tenants/{tenantId}/consumers',
        '/api/tenants/{tenantId}/consumers/{id}',
      ]),
    );
    expect(doc.paths['/api/auth/login'].post.security).toEqual([]);
    expect(doc.components.securitySchemes.portalJwt).toMatchObject({ scheme: 'bearer', bearerFormat: 'JWT' });
    const adminDoc = (await t.api('GET', '/v1/admin/openapi.json')).body;
    expect(Object.keys(adminDoc.paths).filter((p) => p.startsWith('/api/'))).toEqual([]);
  });
});
