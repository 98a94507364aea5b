import { allows } from '../server/control/permissions';
import { RESOURCES, type ResourceDefinition } from '../server/resources';
import { TENANT_ROLES } from '../server/resources/token';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';
import { Receiver } from './support/receiver';
import { storedState } from './support/stored-state';

/**
 * What tenant callers may do with what belongs to the platform: platform-scoped kinds (written by platform roles
 * only) and global (tenant_id null) resources with their sub-resources and actions. Driven from the registry and
 * from the routes the admin API registered (its OpenAPI document), so a new kind or sub-resource is covered.
 */

/** A valid create body per kind; `n` makes ids and unique values fresh. */
const SAMPLES: Record<string, (n: number, hook: string) => Record<string, unknown>> = {
  rate_limit_tier: (n) => ({ id: `tier-${n}`, limit: 10, window_secs: 60 }),
  pricing: (n) => ({ provider: 'openai', model: `model-${n}`, input_per_million_usd: 1, output_per_million_usd: 2 }),
  credential: () => ({ provider: 'openai', api_key: 'sk-platform-secret-1234' }),
  service: () => ({ name: 'platform-svc', target_url: 'https://backend.example.com' }),
  route: () => ({ model_pattern: 'gpt*', providers: [{ provider: 'openai' }] }),
  webhook: (_n, hook) => ({ url: hook, events: ['*'] }),
  mcp_server: (_n, hook) => ({ name: 'platform mcp', url: hook, auth_header: 'Bearer platform-mcp-0000' }),
  token: () => ({ name: 'platform token', role: 'policy-admin' }),
  policy: () => ({ name: 'platform policy', type: 'ip_filter', target: 'global', body: 'deny: [10.0.0.0/8]' }),
  schema: (n) => ({ id: `schema-${n}`, schema: { type: 'object' } }),
  user: (n) => ({
    email: `platform-${n}@example.com`,
    name: 'Platform user',
    role: 'owner',
    password: 'long password',
  }),
  prompt_template: () => ({ name: 'global', template: 'Be {{tone}}', variables: ['tone'] }),
};
const PLATFORM = RESOURCES.filter((d) => d.scope === 'platform');
const GLOBAL_CAPABLE = RESOURCES.filter((d) => d.scope === 'tenant-optional');

const base = (def: ResourceDefinition) => `/v1/admin${def.path}`;
/** A body for a POST to `…/{id}/<sub>` that passes validation, so only the access rules decide. */
function subBody(def: ResourceDefinition, sub: string): unknown {
  if (sub === 'rollback') return { version: 1 };
  const action = def.actions?.[sub];
  if (action?.takesSecret && def.secret) return { [def.secret.field]: 'sk-rotated-by-a-tenant-0000' };
  return undefined;
}

describe.each(testDialects())('platform resources and tenant callers (%s)', (dialect) => {
  let t: TestGateway;
  let rx: Receiver;
  let hookUrl: string;
  let paths: Record<string, Record<string, unknown>>;
  const tokens: Record<string, string> = {};
  let n = 0;

  beforeAll(async () => {
    rx = new Receiver();
    hookUrl = await rx.start();
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'own', name: 'Own' });
    for (const role of TENANT_ROLES)
      tokens[role] = (await t.api('POST', '/v1/admin/tokens', { name: role, role, tenant_id: 'own' })).body.token;
    paths = (await t.api('GET', '/v1/admin/openapi.json', undefined, null)).body.paths;
  });
  afterAll(async () => {
    await t?.close();
    await rx?.stop();
  });

  const state = () => storedState(t, { deliveries: true });
  const create = async (def: ResourceDefinition, extra: Record<string, unknown> = {}) => {
    const res = await t.api('POST', base(def), { ...SAMPLES[def.kind]!(++n, hookUrl), ...extra });
    expect(res.status).toBe(201);
    return res.body as { id: string };
  };

  test('every platform-scoped and global-capable kind has a sample here', () => {
    expect(PLATFORM.length).toBeGreaterThan(0);
    for (const def of [...PLATFORM, ...GLOBAL_CAPABLE])
      expect([def.kind, typeof SAMPLES[def.kind]]).toEqual([def.kind, 'function']);
  });

  /** Every write a kind offers: create, replace, delete, each action, rollback. */
  const writes = (def: ResourceDefinition) => [
    'POST',
    ...(def.updatable !== false ? ['PUT'] : []),
    'DELETE',
    ...Object.keys(def.actions ?? {}).map((a) => `POST ${a}`),
    ...(def.versioned ? ['POST rollback'] : []),
  ];
  const platformCases = PLATFORM.flatMap((def) =>
    TENANT_ROLES.flatMap((role) => writes(def).map((verb) => [def.kind, role, verb, def] as const)),
  );

  test.each(platformCases)('%s: a tenant %s may not %s (403, nothing written)', async (_kind, role, verb, def) => {
    const existing = await create(def);
    const before = await state();
    const [method, sub] = verb.split(' ') as [string, string | undefined];
    const fresh = SAMPLES[def.kind]!(++n, hookUrl);
    const { id: _id, ...replacement } = fresh;
    const res =
      method === 'POST' && !sub
        ? await t.api('POST', base(def), fresh, tokens[role])
        : method === 'PUT'
          ? await t.api('PUT', `${base(def)}/${existing.id}`, replacement, tokens[role])
          : method === 'DELETE'
            ? await t.api('DELETE', `${base(def)}/${existing.id}`, undefined, tokens[role])
            : await t.api('POST', `${base(def)}/${existing.id}/${sub}`, subBody(def, sub!), tokens[role]);
    expect([res.status, res.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(await state()).toEqual(before);
  });

  test.each(PLATFORM.flatMap((def) => TENANT_ROLES.map((role) => [def.kind, role, def] as const)))(
    '%s: a tenant %s reads it as the permission matrix says',
    async (_kind, role, def) => {
      const existing = await create(def);
      const ok = allows(role, def.area, 'read');
      const list = await t.api('GET', base(def), undefined, tokens[role]);
      const one = await t.api('GET', `${base(def)}/${existing.id}`, undefined, tokens[role]);
      expect([list.status, one.status]).toEqual(ok ? [200, 200] : [403, 403]);
    },
  );

  test('platform roles still write platform kinds', async () => {
    for (const def of PLATFORM) {
      const made = await create(def);
      expect((await t.api('DELETE', `${base(def)}/${made.id}`)).status).toBe(204);
    }
  });

  /**
   * Every route under `{path}/{id}` the admin API serves for a kind (GET/PUT/DELETE, versions, rollback, actions,
   * webhook deliveries and test), as [method, sub-path].
   */
  const routesOf = (def: ResourceDefinition): [string, string][] =>
    Object.entries(paths)
      .filter(([p]) => p === `${base(def)}/{id}` || p.startsWith(`${base(def)}/{id}/`))
      .flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => [m.toUpperCase(), p.slice(`${base(def)}/{id}`.length)] as [string, string]),
      );

  const globalCases = GLOBAL_CAPABLE.flatMap((def) =>
    TENANT_ROLES.map((role) => [def.kind, def.nullTenant ?? 'shared', role, def] as const),
  );

  test.each(globalCases)(
    'a global %s (%s): a tenant %s reaches its sub-resources and actions only as the parent allows',
    async (_kind, visibility, role, def) => {
      const hidden = visibility === 'platform-only';
      const global = await create(def, { tenant_id: null });
      const list = await t.api('GET', `${base(def)}?limit=500`, undefined, tokens[role]);
      if (allows(role, def.area, 'read'))
        expect(list.body.data.some((r: { id: string }) => r.id === global.id)).toBe(!hidden);

      const routes = routesOf(def);
      expect(routes.length).toBeGreaterThanOrEqual(2);
      for (const [method, sub] of routes) {
        const need = method === 'GET' ? 'read' : 'write';
        const before = await state();
        const url = `${base(def)}/${global.id}${sub}`;
        const body =
          method === 'PUT'
            ? (({ id: _id, ...rest }) => rest)(SAMPLES[def.kind]!(++n, hookUrl))
            : method === 'POST'
              ? subBody(def, sub.slice(1))
              : undefined;
        const res = await t.api(method, url, body, tokens[role]);
        // Role first (it reveals nothing), then visibility (a hidden parent is a 404), then "global is the platform's".
        const want = !allows(role, def.area, need) ? 403 : hidden ? 404 : need === 'write' ? 403 : 200;
        expect([method, sub, res.status]).toEqual([method, sub, want]);
        if (need === 'write') expect(await state()).toEqual(before);
      }
      expect(rx.received).toEqual([]);
    },
  );

  test("a global webhook's deliveries (every tenant's events) stay the platform's", async () => {
    const webhook = RESOURCES.find((d) => d.kind === 'webhook')!;
    const global = await create(webhook, { tenant_id: null });
    await t.api('POST', '/v1/admin/tenants', { id: `other-${++n}`, name: 'Other' });
    const owner = await t.api('GET', `/v1/admin/webhooks/${global.id}/deliveries`, undefined, OWNER_TOKEN);
    expect(owner.body.data.map((d: { event_type: string }) => d.event_type)).toContain('TENANT_CREATED');
    for (const role of TENANT_ROLES) {
      const res = await t.api('GET', `/v1/admin/webhooks/${global.id}/deliveries`, undefined, tokens[role]);
      expect([res.status, res.body.error.code]).toEqual([404, 'NOT_FOUND']);
    }
    const own = await create(webhook, { tenant_id: 'own' });
    expect((await t.api('GET', `/v1/admin/webhooks/${own.id}/deliveries`, undefined, tokens.viewer)).status).toBe(200);
    expect((await t.api('POST', `/v1/admin/webhooks/${own.id}/test`, undefined, tokens.viewer)).status).toBe(403);
    const tested = await t.api('POST', `/v1/admin/webhooks/${own.id}/test`, undefined, tokens.admin);
    expect(tested.body).toMatchObject({ delivered: true, status_code: 200 });
    rx.received.length = 0;
  });
});

describe.each(testDialects())('lists narrow before they page (%s)', (dialect) => {
  let t: TestGateway;
  let viewer: string;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'zz-own', name: 'Own' });
    // 60 tenants, each with a route, whose ids all sort before the caller's own
    for (let i = 0; i < 60; i++) {
      const id = `aa-${String(i).padStart(2, '0')}`;
      await t.api('POST', '/v1/admin/tenants', { id, name: id });
      await t.api('POST', '/v1/admin/routes', {
        id: `aa-route-${i}`,
        tenant_id: id,
        model_pattern: 'x*',
        providers: [{ provider: 'openai' }],
      });
    }
    await t.api('POST', '/v1/admin/routes', {
      id: 'zz-route',
      tenant_id: 'zz-own',
      model_pattern: 'y*',
      providers: [{ provider: 'openai' }],
    });
    viewer = (await t.api('POST', '/v1/admin/tokens', { name: 'v', role: 'viewer', tenant_id: 'zz-own' })).body.token;
  });
  afterAll(() => t?.close());

  test('a tenant caller sees its own tenant behind 60 others, on the first page and with a small limit', async () => {
    for (const url of ['/v1/admin/tenants', '/v1/admin/tenants?limit=1', '/v1/admin/tenants?tenant_id=zz-own']) {
      const res = await t.api('GET', url, undefined, viewer);
      expect([url, res.status, res.body.data.map((x: { id: string }) => x.id), res.body.next_cursor]).toEqual([
        url,
        200,
        ['zz-own'],
        null,
      ]);
    }
    const owner = await t.api('GET', '/v1/admin/tenants?tenant_id=zz-own');
    expect(owner.body.data.map((x: { id: string }) => x.id)).toEqual(['zz-own']);
  });

  test("every list a tenant caller reads holds its own rows behind 60 other tenants' rows", async () => {
    const routes = await t.api('GET', '/v1/admin/routes', undefined, viewer);
    expect(routes.body.data.map((x: { id: string }) => x.id)).toEqual(['zz-route']);
    const keys = await t.api('GET', '/v1/admin/tenants/zz-own/keys', undefined, viewer);
    expect(keys.status).toBe(200);
    const audit = await t.api('GET', '/v1/admin/audit/events', undefined, viewer);
    expect(audit.body.data.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['TENANT_CREATED', 'ROUTE_CREATED']),
    );
    expect(audit.body.data.every((e: { tenant_id: string }) => e.tenant_id === 'zz-own')).toBe(true);
  });
});
