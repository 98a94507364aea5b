import { sql } from 'kysely';
import { testDialects } from './support/databases';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp, type SeenRequest } from './support/mock-http';
import { MockLlm } from './support/mock-llm';

/** Tenants on the data plane: whose credential goes where, whose breaker opens, whose route gets which request. */
describe.each(testDialects())('data-plane isolation between owners (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let llm: MockLlm;
  let llmUrl: string;
  let platformApi: MockHttp;
  let platformUrl: string;
  let tenantApi: MockHttp;
  let tenantUrl: string;
  const keys: Record<string, string> = {};

  const create = async (path: string, body: Record<string, unknown>) => {
    const res = await t.api('POST', path, body);
    expect([res.status, res.text]).toEqual([201, expect.any(String)]);
    return res.body;
  };
  const route = async (body: Record<string, unknown>) => {
    const r = await create('/v1/admin/routes', body);
    await until(() => !!t.gateway.snapshot.get('route', r.id));
    return r;
  };
  const chat = (tenant: string, model: string) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys[tenant]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
  const get = (path: string, tenant?: string, headers: Record<string, string> = {}) =>
    fetch(`${data.url}${path}`, { headers: { ...(tenant ? { authorization: `Bearer ${keys[tenant]}` } : {}), ...headers } });

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    data = await startDataPlane(t);
    llm = new MockLlm();
    llmUrl = await llm.start();
    platformApi = new MockHttp();
    tenantApi = new MockHttp();
    platformUrl = await platformApi.start();
    tenantUrl = await tenantApi.start();
    for (const id of ['acme', 'beta']) {
      await create('/v1/admin/tenants', { id, name: id });
      const k = await create(`/v1/admin/tenants/${id}/keys`, { name: 'prod' });
      keys[id] = k.key;
      await until(() => !!t.gateway.snapshot.get('api_key', k.id));
    }
    await create('/v1/admin/credentials', { id: 'platform-openai', provider: 'openai', api_key: 'sk-platform-global-key' });
    await until(() => !!t.gateway.snapshot.get('credential', 'platform-openai'));
  }, 120_000);
  afterAll(async () => {
    await data?.close();
    await t?.close();
    await llm?.stop();
    await platformApi?.stop();
    await tenantApi?.stop();
  });

  describe('a global credential goes only where the platform chose', () => {
    test.each([
      ['naming the global credential', { credential_id: 'platform-openai' }],
      ['naming none', {}],
    ])('a tenant route with its own base_url, %s, and no credential of the tenant: 502 no_credential, and the URL gets nothing', async (_what, extra) => {
      const model = `own-url-${Object.keys(extra).length}`;
      await route({ id: `acme-${model}`, tenant_id: 'acme', model_pattern: model, providers: [{ provider: 'openai', base_url: llmUrl, ...extra }] });
      const before = llm.calls.length;
      const res = await chat('acme', model);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect([res.status, body.error.code]).toEqual([502, 'no_credential']);
      expect(body.error.message).toContain('tenant "acme"');
      expect(body.error.message).not.toContain('platform-openai');
      expect(llm.calls.length).toBe(before);
    });

    test('with a credential of its own, the tenant route with its own base_url sends that one, never the global key', async () => {
      await create('/v1/admin/credentials', { id: 'acme-openai', tenant_id: 'acme', provider: 'openai', api_key: 'sk-acme-own-key' });
      await until(() => !!t.gateway.snapshot.get('credential', 'acme-openai'));
      for (const model of ['own-url-0', 'own-url-1']) {
        const before = llm.calls.length;
        const res = await chat('acme', model);
        expect(res.status).toBe(200);
        expect(llm.calls.slice(before).map((c) => c.headers.authorization)).toEqual(['Bearer sk-acme-own-key']);
      }
    });

    test("a global route's base_url (the platform's choice) still gets the global credential", async () => {
      await route({ id: 'global-gpt', model_pattern: 'global-gpt', providers: [{ provider: 'openai', base_url: llmUrl, credential_id: 'platform-openai' }] });
      const before = llm.calls.length;
      expect((await chat('beta', 'global-gpt')).status).toBe(200);
      expect(llm.calls.slice(before).map((c) => c.headers.authorization)).toEqual(['Bearer sk-platform-global-key']);
    });
  });

  test("circuit breakers belong to the route: one tenant's failing route does not open another's to the same backend", async () => {
    const backend = new MockHttp();
    const url = await backend.start();
    try {
      const breaker = { failure_threshold: 1, cooldown_ms: 60_000 };
      const a = await route({ tenant_id: 'acme', path_prefix: '/cb-acme', backend_url: url, strip_prefix: true, circuit_breaker: breaker });
      const b = await route({ tenant_id: 'beta', path_prefix: '/cb-beta', backend_url: url, strip_prefix: true, circuit_breaker: breaker });
      expect((await get('/cb-acme/fail', 'acme')).status).toBe(500);
      const open = await get('/cb-acme/ok', 'acme');
      expect([open.status, ((await open.json()) as any).error.code]).toEqual([503, 'circuit_open']);
      const other = await get('/cb-beta/ok', 'beta');
      expect(other.status).toBe(200);
      expect(((await other.json()) as SeenRequest).url).toBe('/ok');
      const { breakers } = data.app.dataPlane;
      expect([breakers.state(`acme/${a.id}`), breakers.state(`beta/${b.id}`)]).toEqual(['open', 'closed']);
      expect(breakers.entries()).toContainEqual([`acme/${a.id}`, 'open']);
    } finally {
      await backend.stop();
    }
  });

  test("an LLM route's providers each have their own circuit, apart from another tenant's route to the same base URL", async () => {
    const breaker = { failure_threshold: 1, cooldown_ms: 60_000 };
    await create('/v1/admin/credentials', { id: 'beta-openai', tenant_id: 'beta', provider: 'openai', api_key: 'sk-beta-own-key' });
    await route({ id: 'acme-cb-llm', tenant_id: 'acme', model_pattern: 'cb-llm', providers: [{ provider: 'openai', base_url: llmUrl }], circuit_breaker: breaker });
    await route({ id: 'beta-cb-llm', tenant_id: 'beta', model_pattern: 'cb-llm', providers: [{ provider: 'openai', base_url: llmUrl }], circuit_breaker: breaker });
    await until(() => !!t.gateway.snapshot.get('credential', 'beta-openai'));
    llm.mode = 'fail';
    try {
      expect((await chat('acme', 'cb-llm')).status).toBe(500);
      expect((await chat('acme', 'cb-llm')).status).toBe(503);
    } finally {
      llm.mode = 'ok';
    }
    expect((await chat('beta', 'cb-llm')).status).toBe(200);
    expect(new Map(data.app.dataPlane.breakers.entries()).get('acme/acme-cb-llm#0:openai')).toBe('open');
  });

  describe('path ownership with overlapping prefixes from before they were refused (written straight to the table)', () => {
    /** Creates an HTTP route at a unique prefix, then moves it to `prefix` in the database, past the API's checks. */
    const overlapping = async (id: string, tenant: string | null, prefix: string, backend: string, extra: Record<string, unknown> = {}) => {
      await route({ id, ...(tenant ? { tenant_id: tenant } : {}), path_prefix: `/staging-${id}`, backend_url: backend, auth_required: false, ...extra });
      await sql`update resources set data = jsonb_set(data, '{path_prefix}', ${JSON.stringify(prefix)}::jsonb) where kind = 'route' and id = ${id}`.execute(t.gateway.db);
    };

    beforeAll(async () => {
      await overlapping('platform-shared', null, '/shared', platformUrl);
      await overlapping('beta-squat', 'beta', '/shared', tenantUrl, { priority: 1000 });
      await overlapping('beta-squat-deeper', 'beta', '/shared/deeper', tenantUrl, { priority: 1000 });
      await overlapping('acme-public', 'acme', '/tenantpath', platformUrl);
      await overlapping('zz-beta-squat', 'beta', '/tenantpath', tenantUrl, { priority: 1000 });
      await t.gateway.snapshot.reload();
      expect(t.gateway.snapshot.get('route', 'zz-beta-squat')!.path_prefix).toBe('/tenantpath');
    });

    test.each([
      ['/shared/x', 'the same prefix with a higher priority'],
      ['/shared/deeper/x', 'a longer prefix'],
    ])('anonymous %s goes to the global route, not to a tenant route with %s; Authorization and Cookie with it', async (path) => {
      const before = tenantApi.seen.length;
      const res = await get(path, undefined, { authorization: 'Bearer backend-token', cookie: 'session=1' });
      expect(res.status).toBe(200);
      expect(tenantApi.seen.length).toBe(before);
      expect(platformApi.seen.at(-1)).toMatchObject({ url: path, headers: { authorization: 'Bearer backend-token', cookie: 'session=1' } });
    });

    test("a key of another tenant reaches the global route, never the squatter's", async () => {
      const before = tenantApi.seen.length;
      expect((await get('/shared/deeper/x', 'acme')).status).toBe(200);
      expect(tenantApi.seen.length).toBe(before);
    });

    test("between two tenants at one prefix, the squatter's priority does not win anonymous traffic", async () => {
      const before = tenantApi.seen.length;
      expect((await get('/tenantpath/x')).status).toBe(200);
      expect(tenantApi.seen.length).toBe(before);
      expect(platformApi.seen.at(-1)!.url).toBe('/tenantpath/x');
    });

    test("a key of acme reaches acme's own route, never the other tenant's", async () => {
      const before = tenantApi.seen.length;
      expect((await get('/tenantpath/y', 'acme')).status).toBe(200);
      expect(tenantApi.seen.length).toBe(before);
    });
  });
});
