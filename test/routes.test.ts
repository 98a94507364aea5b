import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

const llm = { id: 'gpt-route', model_pattern: 'gpt*', strategy: 'model-prefix', providers: [{ provider: 'openai' }] };
const http = {
  id: 'payments',
  path_prefix: '/apis/acme/payments',
  backend_url: 'https://api.example.com',
  methods: ['GET', 'POST'],
};

describe.each(testDialects())('routes (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect);
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
  });
  afterAll(() => t?.close());

  const routeCount = async () =>
    Number(
      (
        await t.gateway.db
          .selectFrom('resources')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('kind', '=', 'route')
          .executeTakeFirstOrThrow()
      ).n,
    );

  test('an LLM route and an HTTP route, each read back with every default filled in, version 1', async () => {
    const a = await t.api('POST', '/v1/admin/routes', llm);
    expect(a.status).toBe(201);
    expect(a.body).toEqual({
      id: 'gpt-route',
      tenant_id: null,
      description: '',
      enabled: true,
      priority: 0,
      model_pattern: 'gpt*',
      strategy: 'model-prefix',
      providers: [
        { provider: 'openai', model: null, base_url: null, credential_id: null, weight: 1, timeout_ms: null },
      ],
      path_prefix: null,
      methods: [],
      service_id: null,
      backend_url: null,
      strip_prefix: false,
      auth_required: true,
      timeout_ms: 30000,
      rate_limit: null,
      schema_enforcement: 'report',
      circuit_breaker: null,
      deleted_at: null,
      metadata: {},
      version: 1,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const b = await t.api('POST', '/v1/admin/routes', {
      ...http,
      tenant_id: 'acme',
      rate_limit: { limit: 100, window_secs: 60 },
    });
    expect(b.status).toBe(201);
    expect(b.body).toMatchObject({
      tenant_id: 'acme',
      path_prefix: '/apis/acme/payments',
      model_pattern: null,
      rate_limit: { limit: 100, window_secs: 60 },
      version: 1,
    });
    expect((await t.api('GET', '/v1/admin/routes/payments')).body).toEqual(b.body);
    expect((await t.api('GET', '/v1/admin/routes?tenant_id=acme')).body.data.map((r: any) => r.id)).toEqual([
      'payments',
    ]);
  });

  test('exactly one kind, with the fields of that kind; errors name the field and write nothing', async () => {
    const before = await routeCount();
    const cases: [object, string][] = [
      [{ id: 'r1', model_pattern: 'gpt*', path_prefix: '/x', providers: [{ provider: 'openai' }] }, 'path_prefix'],
      [{ id: 'r1' }, 'model_pattern'],
      [{ id: 'r1', model_pattern: 'gpt*' }, 'providers'],
      [{ id: 'r1', model_pattern: 'gpt*', providers: [{ model: 'gpt-4o' }] }, 'providers.0.provider'],
      [{ id: 'r1', model_pattern: 'gpt*', providers: [{ provider: 'openai', weight: -1 }] }, 'providers.0.weight'],
      [{ id: 'r1', model_pattern: 'gpt*', strategy: 'random', providers: [{ provider: 'openai' }] }, 'strategy'],
      [
        { id: 'r1', model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: 'ftp://x' }] },
        'providers.0.base_url',
      ],
      [{ id: 'r1', path_prefix: '/x' }, 'backend_url'],
      [{ id: 'r1', path_prefix: '/x', backend_url: 'http://a', methods: ['FETCH'] }, 'methods.0'],
      [{ id: 'r1', path_prefix: 'x', backend_url: 'http://a' }, 'path_prefix'],
      [
        { id: 'r1', model_pattern: 'gpt*', providers: [{ provider: 'openai' }], backend_url: 'http://a' },
        'backend_url',
      ],
      [
        { id: 'r1', path_prefix: '/x', backend_url: 'http://a', rate_limit: { limit: 0, window_secs: 60 } },
        'rate_limit.limit',
      ],
      [
        { id: 'r1', path_prefix: '/x', backend_url: 'http://a', circuit_breaker: { failure_threshold: 0 } },
        'circuit_breaker.failure_threshold',
      ],
      [
        { id: 'r1', path_prefix: '/x', backend_url: 'http://a', circuit_breaker: { cooldown_ms: 10 } },
        'circuit_breaker.cooldown_ms',
      ],
      [{ id: 'r1', path_prefix: '/x', service_id: 'no-such-service' }, 'service_id'],
    ];
    for (const [body, path] of cases) {
      const res = await t.api('POST', '/v1/admin/routes', body);
      expect([res.status, res.body.error.details[0].path]).toEqual([400, path]);
    }
    expect(await routeCount()).toBe(before);
    const put = await t.api('PUT', '/v1/admin/routes/gpt-route', {
      model_pattern: 'gpt*',
      path_prefix: '/also',
      providers: [{ provider: 'openai' }],
    });
    expect(put.status).toBe(400);
    expect((await t.api('GET', '/v1/admin/routes/gpt-route')).body.version).toBe(1);
  });

  test('12 updates keep the newest 10 versions; rollback to 3 is a new version with its content', async () => {
    for (let i = 2; i <= 13; i++) {
      const res = await t.api('PUT', '/v1/admin/routes/gpt-route', { ...llm, description: `v${i}`, priority: i });
      expect(res.body.version).toBe(i);
    }
    const versions = (await t.api('GET', '/v1/admin/routes/gpt-route/versions')).body.data;
    expect(versions.map((v: any) => v.version)).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 4]);
    expect(versions[0]).toMatchObject({ config: { description: 'v13', priority: 13 }, actor: { id: 'bootstrap' } });

    const gone = await t.api('POST', '/v1/admin/routes/gpt-route/rollback', { version: 3 });
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toMatch(/no version 3 \(the newest 10 versions are kept\)/);

    const back = await t.api('POST', '/v1/admin/routes/gpt-route/rollback', { version: 5 });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ version: 14, description: 'v5', priority: 5 });
    expect((await t.api('GET', '/v1/admin/routes/gpt-route')).body).toEqual(back.body);
    const after = (await t.api('GET', '/v1/admin/routes/gpt-route/versions')).body.data;
    expect(after[0]).toMatchObject({ version: 14, config: { description: 'v5' } });
    expect(after).toHaveLength(10);
    const events = (await t.api('GET', '/v1/admin/audit/events?type=ROUTE_ROLLED_BACK')).body.data;
    expect(events[0]).toMatchObject({
      resource: { kind: 'route', id: 'gpt-route' },
      changes: { restored_version: { to: 5 } },
    });
    expect(
      (await t.api('POST', '/v1/admin/routes/gpt-route/rollback', { version: 'x' })).body.error.details[0].path,
    ).toBe('version');
  });

  test('a rollback to version 3 of a route with 5 versions restores version 3 exactly', async () => {
    await t.api('POST', '/v1/admin/routes', { ...http, id: 'short', tenant_id: 'acme' });
    for (let i = 2; i <= 5; i++)
      expect(
        (
          await t.api('PUT', '/v1/admin/routes/short', {
            ...http,
            id: 'short',
            tenant_id: 'acme',
            timeout_ms: i * 1000,
          })
        ).status,
      ).toBe(200);
    const v3 = (await t.api('GET', '/v1/admin/routes/short/versions')).body.data.find(
      (v: any) => v.version === 3,
    ).config;
    const back = await t.api('POST', '/v1/admin/routes/short/rollback', { version: 3 });
    expect(back.body.version).toBe(6);
    const { id, tenant_id, version, created_at, updated_at, ...fields } = back.body;
    expect(fields).toEqual(v3);
    expect(fields.timeout_ms).toBe(3000);
  });

  test('delete removes the route and its versions; ROUTE_* audit events', async () => {
    expect((await t.api('DELETE', '/v1/admin/routes/short')).status).toBe(204);
    expect((await t.api('GET', '/v1/admin/routes/short/versions')).status).toBe(404);
    const left = await t.gateway.db.selectFrom('resource_versions').selectAll().where('id', '=', 'short').execute();
    expect(left).toEqual([]);
    const types = new Set((await t.api('GET', '/v1/admin/audit/events?limit=500')).body.data.map((e: any) => e.type));
    for (const type of ['ROUTE_CREATED', 'ROUTE_UPDATED', 'ROUTE_ROLLED_BACK', 'ROUTE_DELETED'])
      expect(types).toContain(type);
  });
});
