import { allows } from '../server/control/permissions';
import { PLATFORM_ROLES, ROLES, type AdminRole } from '../server/resources/token';
import type { Area } from '../server/resources/define';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/**
 * Every role against every tenant and API-key endpoint, for its own tenant and a foreign one. The expectation is
 * derived from the rules, so this table reads as the specification:
 * - a tenant role naming a tenant other than its own: 403 TENANT_SCOPE_VIOLATION, and an audit event says so;
 * - otherwise the permission matrix decides: allowed, or 403 FORBIDDEN with nothing written.
 */
interface Op {
  name: string;
  area: Area;
  need: 'read' | 'write';
  /** Runs the call against `tenant` and returns the status. */
  call: (t: TestGateway, token: string, tenant: string, fixture: Fixture) => Promise<{ status: number; body: any }>;
  ok: number;
  /** Creating or deleting a tenant always names one other than the caller's own: no own-tenant variant. */
  foreignOnly?: boolean;
}
interface Fixture {
  keys: Record<string, string>;
  n: number;
}

const OPS: Op[] = [
  {
    name: 'create tenant',
    area: 'tenants',
    need: 'write',
    ok: 201,
    foreignOnly: true,
    call: (t, k, tenant, f) => t.api('POST', '/v1/admin/tenants', { id: `${tenant}-new-${f.n++}`, name: 'x' }, k),
  },
  {
    name: 'get tenant',
    area: 'tenants',
    need: 'read',
    ok: 200,
    call: (t, k, tenant) => t.api('GET', `/v1/admin/tenants/${tenant}`, undefined, k),
  },
  {
    name: 'list tenants by tenant_id',
    area: 'tenants',
    need: 'read',
    ok: 200,
    call: (t, k, tenant) => t.api('GET', `/v1/admin/tenants?tenant_id=${tenant}`, undefined, k),
  },
  {
    name: 'replace tenant',
    area: 'tenants',
    need: 'write',
    ok: 200,
    call: (t, k, tenant) => t.api('PUT', `/v1/admin/tenants/${tenant}`, { name: `Renamed ${tenant}` }, k),
  },
  {
    name: 'delete tenant',
    area: 'tenants',
    need: 'write',
    ok: 204,
    foreignOnly: true,
    call: (t, k, tenant) => t.api('DELETE', `/v1/admin/tenants/${tenant}-spare`, undefined, k),
  },
  {
    name: 'create key',
    area: 'keys',
    need: 'write',
    ok: 201,
    call: (t, k, tenant) => t.api('POST', `/v1/admin/tenants/${tenant}/keys`, { name: 'k' }, k),
  },
  {
    name: 'list keys',
    area: 'keys',
    need: 'read',
    ok: 200,
    call: (t, k, tenant) => t.api('GET', `/v1/admin/tenants/${tenant}/keys`, undefined, k),
  },
  {
    name: 'get key',
    area: 'keys',
    need: 'read',
    ok: 200,
    call: (t, k, tenant, f) => t.api('GET', `/v1/admin/tenants/${tenant}/keys/${f.keys[tenant]}`, undefined, k),
  },
  {
    name: 'replace key',
    area: 'keys',
    need: 'write',
    ok: 200,
    call: (t, k, tenant, f) =>
      t.api('PUT', `/v1/admin/tenants/${tenant}/keys/${f.keys[tenant]}`, { name: 'renamed' }, k),
  },
  {
    name: 'revoke key',
    area: 'keys',
    need: 'write',
    ok: 200,
    call: (t, k, tenant, f) => t.api('POST', `/v1/admin/tenants/${tenant}/keys/${f.keys[tenant]}/revoke`, undefined, k),
  },
  {
    name: 'delete key',
    area: 'keys',
    need: 'write',
    ok: 204,
    call: (t, k, tenant, f) => t.api('DELETE', `/v1/admin/tenants/${tenant}/keys/${f.keys[tenant]}`, undefined, k),
  },
];

const isPlatform = (role: AdminRole) => (PLATFORM_ROLES as readonly string[]).includes(role);
const expected = (role: AdminRole, op: Op, own: boolean) =>
  !isPlatform(role) && !own ? 'TENANT_SCOPE_VIOLATION' : allows(role, op.area, op.need) ? 'ok' : 'FORBIDDEN';

describe.each(testDialects())('roles and tenant scope (%s)', (dialect) => {
  let t: TestGateway;
  const tokens = {} as Record<AdminRole, string>;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'own', name: 'Own' });
    for (const role of ROLES) {
      tokens[role] = (
        await t.api('POST', '/v1/admin/tokens', { name: role, role, ...(isPlatform(role) ? {} : { tenant_id: 'own' }) })
      ).body.token;
    }
  });
  afterAll(() => t?.close());

  /** Fresh tenants and keys for one cell of the table, so each call finds what it needs. */
  const setUp = async (): Promise<Fixture> => {
    const keys: Record<string, string> = {};
    for (const tenant of ['own', 'other']) {
      if ((await t.api('PUT', `/v1/admin/tenants/${tenant}`, { name: tenant })).status === 404)
        await t.api('POST', '/v1/admin/tenants', { id: tenant, name: tenant });
      await t.api('POST', '/v1/admin/tenants', { id: `${tenant}-spare`, name: 'spare' });
      keys[tenant] = (await t.api('POST', `/v1/admin/tenants/${tenant}/keys`, { name: 'fixture' })).body.id;
    }
    return { keys, n: Math.floor(Math.random() * 1e9) };
  };
  const counts = async () => ({
    resources: await t.gateway.db
      .selectFrom('resources')
      .select(['kind', 'id', 'data'])
      .orderBy('kind')
      .orderBy('id')
      .execute(),
    audit: await t.gateway.db
      .selectFrom('audit_events')
      .select(['type', 'tenant_id', 'actor'])
      .orderBy('seq')
      .execute(),
  });

  const cases = ROLES.flatMap((role) =>
    OPS.flatMap((op) =>
      (op.foreignOnly ? [false] : [true, false]).map(
        (own) => [role, op.name, own ? 'own' : 'foreign', own, op] as const,
      ),
    ),
  );
  test.each(cases)('%s: %s, %s tenant', async (role, _name, _label, own, op) => {
    const fixture = await setUp();
    const before = await counts();
    const res = await op.call(t, tokens[role], own ? 'own' : 'other', fixture);
    const want = expected(role, op, own);
    const after = await counts();
    if (want === 'ok') {
      expect(res.status).toBe(op.ok);
      if (op.need === 'read') expect(after).toEqual(before);
      return;
    }
    expect([res.status, res.body.error.code]).toEqual([403, want]);
    expect(after.resources).toEqual(before.resources);
    const added = after.audit.slice(before.audit.length);
    if (want === 'FORBIDDEN') expect(added).toEqual([]);
    else
      expect(added).toEqual([
        {
          type: 'TENANT_SCOPE_VIOLATION',
          tenant_id: 'own',
          actor: { type: 'token', id: expect.stringMatching(/^pat_/), name: role },
        },
      ]);
  });

  test('tenant roles may neither delete nor re-create their own tenant', async () => {
    await setUp();
    for (const role of ['admin', 'developer', 'viewer'] as const) {
      expect((await t.api('DELETE', '/v1/admin/tenants/own', undefined, tokens[role])).body.error.code).toBe(
        'FORBIDDEN',
      );
      expect(
        (await t.api('POST', '/v1/admin/tenants', { id: 'own', name: 'again' }, tokens[role])).body.error.code,
      ).toBe('FORBIDDEN');
    }
  });

  test("an omitted tenant parameter is narrowed to the caller's tenant", async () => {
    await setUp();
    for (const role of ['admin', 'developer', 'viewer'] as const) {
      const tenants = (await t.api('GET', '/v1/admin/tenants', undefined, tokens[role])).body.data;
      expect(tenants.map((x: any) => x.id)).toEqual(['own']);
    }
    const audit = (await t.api('GET', '/v1/admin/audit/events?limit=500', undefined, tokens.viewer)).body.data;
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.every((e: any) => e.tenant_id === 'own')).toBe(true);
    const all = (await t.api('GET', '/v1/admin/tenants?limit=500', undefined, tokens['billing-admin'])).body.data.map(
      (x: any) => x.id,
    );
    expect(all).toEqual(expect.arrayContaining(['own', 'other']));
  });

  test('a path tenant and a ?tenant_id= that disagree: the foreign one is a violation, two platform-named ones a 400', async () => {
    await setUp();
    const mixed = await t.api('GET', '/v1/admin/tenants/own/keys?tenant_id=other', undefined, tokens.admin);
    expect([mixed.status, mixed.body.error.code]).toEqual([403, 'TENANT_SCOPE_VIOLATION']);
    const owner = await t.api('GET', '/v1/admin/tenants/own/keys?tenant_id=other');
    expect([owner.status, owner.body.error.details[0].path]).toEqual([400, 'tenant_id']);
  });

  test('a tenant role reading a foreign resource by id gets 404, revealing nothing', async () => {
    const { keys } = await setUp();
    const route = await t.api('POST', '/v1/admin/routes', {
      tenant_id: 'other',
      path_prefix: '/o',
      backend_url: 'http://o.example',
    });
    expect((await t.api('GET', `/v1/admin/routes/${route.body.id}`, undefined, tokens.admin)).status).toBe(404);
    expect((await t.api('GET', `/v1/admin/tenants/own/keys/${keys.other}`, undefined, tokens.admin)).status).toBe(404);
  });
});
