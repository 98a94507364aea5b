import { RESOURCES, type ResourceDefinition } from '../server/resources';
import { hasTenantField } from '../server/resources/schemas';
import { importState } from '../provider/operations';
import { MODELS } from '../provider/schema';
import { testDialects } from './support/databases';
import { allows } from '../server/control/permissions';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

/**
 * Ids are unique per owner (a tenant, or global): a tenant can take any id without learning whether another tenant
 * has it, and nobody can squat an id in another tenant's namespace (issue 11, item 6). Driven from the registry:
 * every kind whose resources belong to a tenant and whose id the caller may choose.
 */
const NAMED = RESOURCES.filter((d) => hasTenantField(d) && d.id.source !== 'server');
/** Kinds whose global resources tenants see too: a global id and a tenant's id may not coexist there. */
const SHARED_VIEW = NAMED.filter((d) => d.scope === 'tenant-optional' && d.nullTenant !== 'platform-only');

/** A valid create body of each such kind, with the id to use. */
const BODIES: Record<string, (id: string) => Record<string, unknown>> = {
  credential: (id) => ({ id, provider: 'openai', api_key: 'sk-namespace-test-1234' }),
  service: (id) => ({ id, name: 'svc', target_url: 'https://backend.example.com' }),
  route: (id) => ({ id, model_pattern: `${id}-*`, providers: [{ provider: 'openai' }] }),
  budget: (id) => ({ id, period: 'MONTHLY', limit_usd: 10, enforcement: 'SOFT' }),
  webhook: (id) => ({ id, url: 'https://hooks.example.com/portico', events: ['*'] }),
  policy: (id) => ({ id, name: 'p', type: 'quota', body: 'limit: 10\nperiod: day\n' }),
  schema: (id) => ({ id, schema: { type: 'object' } }),
  // emails are unique across the gateway, ids only per owner
  user: (id) => ({ id, email: `${id}-${++emails}@example.com`, name: 'U', role: 'viewer' }),
  prompt_template: (id) => ({ id, name: 'p', template: 'Say {{x}}', variables: ['x'] }),
  mcp_server: (id) => ({ id, name: 'mcp', url: 'https://mcp.example.com/mcp', auth_header: 'Bearer ns-0000' }),
};
let emails = 0;

const base = (def: ResourceDefinition) => `/v1/admin${def.path}`;

describe.each(testDialects())('ids are unique per tenant (%s)', (dialect) => {
  let t: TestGateway;
  const token: Record<string, string> = {};
  /** Tenant admins write most kinds; a tenant's budgets are written by the platform (billing). */
  const byTenant = (def: ResourceDefinition) => allows('admin', def.area, 'write');
  const writer = (tenant: string, def: ResourceDefinition) => (byTenant(def) ? token[tenant] : OWNER_TOKEN);
  /** A create of tenant `tenant`'s resource, by its admin where it may. */
  const createAs = (tenant: string, def: ResourceDefinition, id: string) =>
    t.api(
      'POST',
      base(def),
      { ...BODIES[def.kind]!(id), ...(byTenant(def) ? {} : { tenant_id: tenant }) },
      writer(tenant, def),
    );

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    for (const tenant of ['ta', 'tb']) {
      await t.api('POST', '/v1/admin/tenants', { id: tenant, name: tenant });
      token[tenant] = (
        await t.api('POST', '/v1/admin/tokens', { name: 'admin', role: 'admin', tenant_id: tenant })
      ).body.token;
    }
  });
  afterAll(() => t?.close());

  test('every tenant-owned kind with caller-chosen ids is covered here', () => {
    expect(NAMED.map((d) => d.kind).sort()).toEqual(Object.keys(BODIES).sort());
  });

  test.each(NAMED.map((d) => [d.kind, d] as const))(
    '%s: two tenants each hold the same id, and neither learns of the other',
    async (_kind, def) => {
      const id = `same-${def.kind.replace(/_/g, '-')}`;
      const fresh = await createAs('ta', def, `fresh-${def.kind.replace(/_/g, '-')}`);
      const first = await createAs('ta', def, id);
      const second = await createAs('tb', def, id);
      // Taking an id another tenant holds answers exactly as taking a fresh one.
      expect([fresh.status, first.status, second.status]).toEqual([201, 201, 201]);
      expect([first.body.tenant_id, second.body.tenant_id]).toEqual(['ta', 'tb']);

      // Each tenant reads, lists and changes its own.
      expect((await t.api('GET', `${base(def)}/${id}`, undefined, token.ta)).body.tenant_id).toBe('ta');
      expect((await t.api('GET', `${base(def)}/${id}`, undefined, token.tb)).body.tenant_id).toBe('tb');
      const listed = (await t.api('GET', base(def), undefined, token.tb)).body.data.filter(
        (r: { id: string }) => r.id === id,
      );
      expect(listed.map((r: { tenant_id: string }) => r.tenant_id)).toEqual(['tb']);

      // Its own id again is a 409 (that tells the tenant only about itself).
      const again = await createAs('ta', def, id);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('ALREADY_EXISTS');

      // The platform names the owner when several tenants hold the id.
      const ambiguous = await t.api('GET', `${base(def)}/${id}`);
      expect(ambiguous.status).toBe(409);
      expect(ambiguous.body.error).toMatchObject({ code: 'AMBIGUOUS_ID', details: [{ path: 'tenant_id' }] });
      expect((await t.api('GET', `${base(def)}/${id}?tenant_id=tb`)).body.tenant_id).toBe('tb');

      // A tenant's delete takes only its own.
      const named = byTenant(def) ? '' : '?tenant_id=ta';
      expect((await t.api('DELETE', `${base(def)}/${id}${named}`, undefined, writer('ta', def))).status).toBe(204);
      expect((await t.api('GET', `${base(def)}/${id}`, undefined, token.tb)).status).toBe(200);
      expect((await t.api('GET', `${base(def)}/${id}`)).body.tenant_id).toBe('tb');
    },
  );

  test('a bad owner or cursor is a 400 naming it, and changes nothing', async () => {
    const before = await t.gateway.db.selectFrom('resources').select(['kind', 'id', 'owner']).execute();
    const cases: [string, string][] = [
      ['GET', '/v1/admin/routes/any?tenant_id=%00'],
      ['DELETE', `/v1/admin/routes/any?tenant_id=${'t'.repeat(64)}`],
      ['GET', `/v1/admin/services?cursor=${Buffer.from('paged ta extra').toString('base64url')}`],
      ['GET', `/v1/admin/services?cursor=${Buffer.from('paged \u0000').toString('base64url')}`],
    ];
    for (const [method, url] of cases) {
      const res = await t.api(method, url);
      expect([url, res.status]).toEqual([url, 400]);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual([
        url.includes('cursor') ? 'cursor' : 'tenant_id',
      ]);
    }
    expect(await t.gateway.db.selectFrom('resources').select(['kind', 'id', 'owner']).execute()).toEqual(before);
  });

  test('a platform list pages through every owner of a shared id, each once', async () => {
    const def = NAMED.find((d) => d.kind === 'service')!;
    for (const tenant of ['ta', 'tb']) expect((await createAs(tenant, def, 'paged')).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: { id: string; tenant_id: string }[]; next_cursor: string | null } } = await t.api(
        'GET',
        `${base(def)}?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.body.data.filter((r) => r.id === 'paged').map((r) => r.tenant_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['ta', 'tb']);
  });

  test.each(SHARED_VIEW.map((d) => [d.kind, d] as const))(
    "%s: a global id and a tenant id never share a tenant's view",
    async (_kind, def) => {
      const global = `global-${def.kind}`;
      expect((await t.api('POST', base(def), { ...BODIES[def.kind]!(global), tenant_id: null })).status).toBe(201);
      // The tenant sees the global one, so being told it exists reveals nothing.
      expect((await t.api('GET', `${base(def)}/${global}`, undefined, token.ta)).status).toBe(200);
      const tenantTake = await createAs('ta', def, global);
      expect(tenantTake.status).toBe(409);
      expect(tenantTake.body.error.details).toEqual([{ path: 'id', message: 'is taken' }]);

      const owned = `owned-${def.kind}`;
      expect((await createAs('ta', def, owned)).status).toBe(201);
      const platformTake = await t.api('POST', base(def), { ...BODIES[def.kind]!(owned), tenant_id: null });
      expect(platformTake.status).toBe(409);
      expect(platformTake.body.error.message).toContain('"ta"');
    },
  );

  test("a global webhook (which tenants do not see) and a tenant's may share an id; the platform's own comes first", async () => {
    const def = NAMED.find((d) => d.kind === 'webhook')!;
    expect((await t.api('POST', base(def), { ...BODIES.webhook!('hook'), tenant_id: null })).status).toBe(201);
    expect((await createAs('ta', def, 'hook')).status).toBe(201);
    expect((await t.api('GET', `${base(def)}/hook`)).body.tenant_id).toBeNull();
    expect((await t.api('GET', `${base(def)}/hook?tenant_id=ta`)).body.tenant_id).toBe('ta');
    expect((await t.api('GET', `${base(def)}/hook`, undefined, token.ta)).body.tenant_id).toBe('ta');

    // Deliveries belong to the webhook of their owner.
    expect((await t.api('POST', `${base(def)}/hook/test`, undefined, token.ta)).status).toBe(200);
    const tests = async (token?: string) =>
      (await t.api('GET', `${base(def)}/hook/deliveries`, undefined, token)).body.data.filter(
        (d: { event_type: string }) => d.event_type === 'WEBHOOK_TEST',
      );
    expect(await tests(token.ta)).toHaveLength(1);
    expect(await tests()).toHaveLength(0);
  });

  test('versions and rollbacks are per owner', async () => {
    const route = NAMED.find((d) => d.kind === 'route')!;
    for (const tenant of ['ta', 'tb']) expect((await createAs(tenant, route, 'versioned')).status).toBe(201);
    const put = await t.api(
      'PUT',
      '/v1/admin/routes/versioned',
      { ...BODIES.route!('versioned'), description: 'second' },
      token.ta,
    );
    expect(put.body.version).toBe(2);
    const versionsOf = async (tenant: string) =>
      (await t.api('GET', `/v1/admin/routes/versioned/versions?tenant_id=${tenant}`)).body.data.map(
        (v: { version: number }) => v.version,
      );
    expect(await versionsOf('ta')).toEqual([2, 1]);
    expect(await versionsOf('tb')).toEqual([1]);
    const back = await t.api('POST', '/v1/admin/routes/versioned/rollback?tenant_id=ta', { version: 1 });
    expect(back.body).toMatchObject({ tenant_id: 'ta', version: 3 });
    expect(back.body.description).not.toBe('second');
  });

  test("references resolve in the owner's namespace: a tenant's route names its own service", async () => {
    const service = NAMED.find((d) => d.kind === 'service')!;
    for (const tenant of ['ta', 'tb']) expect((await createAs(tenant, service, 'backend')).status).toBe(201);
    const route = await t.api(
      'POST',
      '/v1/admin/routes',
      { id: 'uses-backend', path_prefix: '/ta-backend', service_id: 'backend' },
      token.ta,
    );
    expect(route.status).toBe(201);
    expect((await t.api('DELETE', '/v1/admin/services/backend', undefined, token.tb)).status).toBe(204);
    const refused = await t.api('DELETE', '/v1/admin/services/backend', undefined, token.ta);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('1 route');
  });

  test('export → import round-trips ids that several tenants hold', async () => {
    const doc = (await t.api('GET', '/v1/admin/config/export')).body;
    const dry = await t.api('POST', '/v1/admin/config/import?mode=replace&dry_run=true', doc);
    expect(dry.body.error).toBeUndefined();
    expect({ created: dry.body.created, updated: dry.body.updated, deleted: dry.body.deleted }).toEqual({
      created: [],
      updated: [],
      deleted: [],
    });
    const shared = doc.services
      .filter((s: { id: string }) => s.id === 'paged')
      .map((s: { tenant_id: string }) => s.tenant_id);
    expect(shared.sort()).toEqual(['ta', 'tb']);
  });
});

test('Terraform import ids name the owner of a tenant resource as <tenant_id>/<id>', () => {
  const model = MODELS.find((m) => m.def.kind === 'route')!;
  expect(importState(model, 'ta/main')).toMatchObject({ tenant_id: 'ta', id: 'main' });
  expect(importState(model, 'main')).toMatchObject({ tenant_id: null, id: 'main' });
  expect(() => importState(model, 'a/b/c')).toThrow(/<tenant_id>\/<id>/);
});
