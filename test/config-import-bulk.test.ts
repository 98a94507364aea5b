import type { ApiError } from '../server/errors';
import { ClaimIndex, pathsOverlap } from '../server/control/path-claims';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

describe('ClaimIndex refuses exactly what pathsOverlap calls an overlap with another owner', () => {
  const paths = [
    '/',
    '/api',
    '/api/',
    '/api/v2',
    '/apix',
    '/a/b',
    '/a',
    '/%61pi',
    '/x/../api',
    '/api%2Fv2',
    '//',
    '/b',
  ];
  test.each(paths.flatMap((held) => paths.map((wanted) => [held, wanted])))('held %s, wanted %s', (held, wanted) => {
    const index = new ClaimIndex('path_prefix');
    index.add(null, held);
    const claim = () => {
      try {
        index.claim('acme', { path_prefix: wanted });
      } catch (err) {
        throw new Error((err as ApiError).details[0]!.message);
      }
    };
    const rootForTenant = wanted === '/' || wanted === '//';
    if (rootForTenant) expect(claim).toThrow(/at least one segment/);
    else if (pathsOverlap(held, wanted)) expect(claim).toThrow(/already claimed by another owner/);
    else expect(claim).not.toThrow();
  });

  test("an owner's own claims never clash; a claim just made blocks the next owner", () => {
    const index = new ClaimIndex('path_prefix');
    index.claim('acme', { path_prefix: '/acme' });
    expect(() => index.claim('acme', { path_prefix: '/acme/v2' })).not.toThrow();
    expect(() => index.claim('beta', { path_prefix: '/acme/v2/x' })).toThrow(/already claimed/);
    expect(() => index.claim('beta', { path_prefix: '/' + 'acme'.slice(0, 3) })).not.toThrow();
    expect(() => index.claim(null, { path_prefix: '/' })).toThrow(/already claimed/);
  });
});

describe.each(testDialects())('config import in bulk (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'held', name: 'Held' });
    await t.api('POST', '/v1/admin/routes', {
      id: 'held-api',
      tenant_id: 'held',
      path_prefix: '/held',
      backend_url: 'https://held.example.com',
    });
  });
  afterAll(() => t?.close());

  const fleet = (ids: string[], prefix: (id: string) => string = (id) => `/${id}`) => ({
    version: 1,
    tenants: ids.map((id) => ({ id, name: `Tenant ${id}` })),
    routes: ids.map((id) => ({
      id: `${id}-api`,
      tenant_id: id,
      path_prefix: prefix(id),
      backend_url: 'https://api.example.com',
    })),
    budgets: ids.map((id) => ({ id: `${id}-monthly`, tenant_id: id, limit_usd: 10 })),
  });
  const count = async (table: 'resources' | 'audit_events' | 'resource_versions') =>
    Number(
      (await t.gateway.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst())!.n,
    );

  test('a claim overlapping another tenant, stored or earlier in the same document, fails at its entry; nothing is written', async () => {
    const before = [await count('resources'), await count('audit_events')];
    const stored = await t.api(
      'POST',
      '/v1/admin/config/import?mode=merge',
      fleet(['a1', 'a2', 'a3'], (id) => (id === 'a3' ? '/held/x' : `/${id}`)),
    );
    expect(stored.status).toBe(409);
    expect(stored.body.error.details).toEqual([
      { path: 'routes.2.path_prefix', message: 'is already claimed by another owner' },
    ]);
    expect(stored.body.error.message).toMatch(/^create route "a3-api" failed/);
    const inDocument = await t.api(
      'POST',
      '/v1/admin/config/import?mode=merge',
      fleet(['b1', 'b2'], (id) => (id === 'b2' ? '/b1/v2' : `/${id}`)),
    );
    expect(inDocument.status).toBe(409);
    expect(inDocument.body.error.details[0].path).toBe('routes.1.path_prefix');
    expect([await count('resources'), await count('audit_events')]).toEqual(before);
  });

  test('a budget of a tenant the document lacks fails at its tenant_id', async () => {
    const doc = {
      version: 1,
      budgets: [
        { id: 'x-monthly', tenant_id: 'nobody', limit_usd: 1 },
        { id: 'y', tenant_id: 'held', limit_usd: 1 },
      ],
    };
    const res = await t.api('POST', '/v1/admin/config/import?mode=merge', doc);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: 'budgets.0.tenant_id', message: 'no tenant "nobody" exists' }]);
  });

  test('a fleet is created with one audit event and (routes) one version per resource, and reads back as created', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `f${i}`);
    const before = {
      resources: await count('resources'),
      audit: await count('audit_events'),
      versions: await count('resource_versions'),
    };
    const res = await t.api('POST', '/v1/admin/config/import?mode=merge', fleet(ids));
    expect(res.status).toBe(200);
    expect(res.body.created).toHaveLength(90);
    expect(await count('resources')).toBe(before.resources + 90);
    expect(await count('audit_events')).toBe(before.audit + 91); // one per resource, and CONFIG_IMPORTED
    expect(await count('resource_versions')).toBe(before.versions + 30);
    const route = (await t.api('GET', '/v1/admin/routes/f7-api?tenant_id=f7')).body;
    expect(route).toMatchObject({ id: 'f7-api', tenant_id: 'f7', path_prefix: '/f7', version: 1 });
    const events = await t.gateway.db
      .selectFrom('audit_events')
      .select(['type', 'tenant_id'])
      .where('resource_id', '=', 'f7-api')
      .execute();
    expect(events).toEqual([{ type: 'ROUTE_CREATED', tenant_id: 'f7' }]);
    expect(
      (await t.api('GET', '/v1/admin/routes/f7-api/versions?tenant_id=f7')).body.data.map(
        (v: { version: number }) => v.version,
      ),
    ).toEqual([1]);
    const again = await t.api('POST', '/v1/admin/config/import?mode=merge', fleet(ids));
    expect(again.body.unchanged).toBe(90);
    const verified = await t.api('GET', '/v1/admin/audit/verify');
    expect(verified.body).toMatchObject({ valid: true });
  });

  test('one run of 5,200 creates (more audit rows than one statement has parameters for) is imported whole', async () => {
    const before = await count('audit_events');
    const tenants = Array.from({ length: 5200 }, (_, i) => ({ id: `many-${i}`, name: `Many ${i}` }));
    const res = await t.api('POST', '/v1/admin/config/import?mode=merge', { version: 1, tenants });
    expect(res.status).toBe(200);
    expect(res.body.created).toHaveLength(5200);
    expect(await count('audit_events')).toBe(before + 5201);
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  }, 60_000);
});
