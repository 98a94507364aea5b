import { sql } from 'kysely';
import { testDialects } from './support/databases';
import { createCredential, createRoute, setupTenant, uniqueId, type TenantSetup } from './support/fixtures';
import { startDataPlane, startTestGateway, type TestGateway } from './support/gateway';
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
  let platformCredential: string;

  const chat = (key: string, model: string) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
  const get = (path: string, key?: string, headers: Record<string, string> = {}) =>
    fetch(`${data.url}${path}`, { headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    data = await startDataPlane(t);
    llm = new MockLlm();
    llmUrl = await llm.start();
    platformApi = new MockHttp();
    tenantApi = new MockHttp();
    platformUrl = await platformApi.start();
    tenantUrl = await tenantApi.start();
    // the platform's own provider key: a fact of the fleet every test below may rely on, and none changes
    platformCredential = (await createCredential(t, null, 'openai', 'sk-platform-global-key')).id;
  }, 120_000);
  afterAll(async () => {
    await data?.close();
    await t?.close();
    await llm?.stop();
    await platformApi?.stop();
    await tenantApi?.stop();
  });

  describe('a global credential goes only where the platform chose', () => {
    /** What a tenant route with its own base_url names as its credential: the global one, or none. */
    const naming = (how: string) => (how === 'the global' ? { credential_id: platformCredential } : {});

    test.each([['the global'], ['no']])(
      'a tenant route with its own base_url, naming %s credential, and no credential of the tenant: 502 no_credential, and the URL gets nothing',
      async (how) => {
        const acme = await setupTenant(t, {
          route: { model_pattern: 'own-url', providers: [{ provider: 'openai', base_url: llmUrl, ...naming(how) }] },
        });
        const before = llm.calls.length;
        const res = await chat(acme.key, 'own-url');
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect([res.status, body.error.code]).toEqual([502, 'no_credential']);
        expect(body.error.message).toContain(`tenant "${acme.tenantId}"`);
        expect(body.error.message).not.toContain(platformCredential);
        expect(llm.calls.length).toBe(before);
      },
    );

    test.each([['the global'], ['no']])(
      'with a credential of its own, the tenant route with its own base_url, naming %s credential, sends that one, never the global key',
      async (how) => {
        const acme = await setupTenant(t, {
          credential: 'openai',
          route: { model_pattern: 'own-url', providers: [{ provider: 'openai', base_url: llmUrl, ...naming(how) }] },
        });
        const before = llm.calls.length;
        const res = await chat(acme.key, 'own-url');
        expect(res.status).toBe(200);
        expect(llm.calls.slice(before).map((c) => c.headers.authorization)).toEqual([
          `Bearer ${acme.credentialSecret}`,
        ]);
      },
    );

    test("a global route's base_url (the platform's choice) still gets the global credential", async () => {
      const model = uniqueId('global-gpt');
      await createRoute(t, null, {
        model_pattern: model,
        providers: [{ provider: 'openai', base_url: llmUrl, credential_id: platformCredential }],
      });
      const beta = await setupTenant(t);
      const before = llm.calls.length;
      expect((await chat(beta.key, model)).status).toBe(200);
      expect(llm.calls.slice(before).map((c) => c.headers.authorization)).toEqual(['Bearer sk-platform-global-key']);
    });
  });

  test("circuit breakers belong to the route: one tenant's failing route does not open another's to the same backend", async () => {
    const backend = new MockHttp();
    const url = await backend.start();
    try {
      const breaker = { failure_threshold: 1, cooldown_ms: 60_000 };
      const [prefixA, prefixB] = [`/${uniqueId('cb-a')}`, `/${uniqueId('cb-b')}`];
      const acme = await setupTenant(t, {
        route: { path_prefix: prefixA, backend_url: url, strip_prefix: true, circuit_breaker: breaker },
      });
      const beta = await setupTenant(t, {
        route: { path_prefix: prefixB, backend_url: url, strip_prefix: true, circuit_breaker: breaker },
      });
      expect((await get(`${prefixA}/fail`, acme.key)).status).toBe(500);
      const open = await get(`${prefixA}/ok`, acme.key);
      expect([open.status, ((await open.json()) as any).error.code]).toEqual([503, 'circuit_open']);
      const other = await get(`${prefixB}/ok`, beta.key);
      expect(other.status).toBe(200);
      expect(((await other.json()) as SeenRequest).url).toBe('/ok');
      const { breakers } = data.app.dataPlane;
      expect([
        breakers.state(`${acme.tenantId}/${acme.routeId}`),
        breakers.state(`${beta.tenantId}/${beta.routeId}`),
      ]).toEqual(['open', 'closed']);
      expect(breakers.entries()).toContainEqual([`${acme.tenantId}/${acme.routeId}`, 'open']);
    } finally {
      await backend.stop();
    }
  });

  test("an LLM route's providers each have their own circuit, apart from another tenant's route to the same base URL", async () => {
    const failing = new MockLlm();
    const failingUrl = await failing.start();
    try {
      const route = {
        model_pattern: 'cb-llm',
        providers: [{ provider: 'openai', base_url: failingUrl }],
        circuit_breaker: { failure_threshold: 1, cooldown_ms: 60_000 },
      };
      const acme = await setupTenant(t, { credential: 'openai', route });
      const beta = await setupTenant(t, { credential: 'openai', route });
      failing.mode = 'fail';
      expect((await chat(acme.key, 'cb-llm')).status).toBe(500);
      expect((await chat(acme.key, 'cb-llm')).status).toBe(503);
      failing.mode = 'ok';
      expect((await chat(beta.key, 'cb-llm')).status).toBe(200);
      expect(new Map(data.app.dataPlane.breakers.entries()).get(`${acme.tenantId}/${acme.routeId}#0:openai`)).toBe(
        'open',
      );
    } finally {
      await failing.stop();
    }
  });

  describe('path ownership with overlapping prefixes from before they were refused (written straight to the table)', () => {
    /** Creates an HTTP route at a unique prefix, then moves it to `prefix` in the database, past the API's checks. */
    const overlapping = async (
      id: string,
      tenant: string | null,
      prefix: string,
      backend: string,
      extra: Record<string, unknown> = {},
    ) => {
      await createRoute(t, tenant, {
        id,
        path_prefix: `/staging-${id}`,
        backend_url: backend,
        auth_required: false,
        ...extra,
      });
      await sql`update resources set data = jsonb_set(data, '{path_prefix}', ${JSON.stringify(prefix)}::jsonb) where kind = 'route' and id = ${id}`.execute(
        t.gateway.db,
      );
    };

    let acme: TenantSetup;
    beforeAll(async () => {
      acme = await setupTenant(t);
      const beta = await setupTenant(t);
      await overlapping('platform-shared', null, '/shared', platformUrl);
      await overlapping('beta-squat', beta.tenantId, '/shared', tenantUrl, { priority: 1000 });
      await overlapping('beta-squat-deeper', beta.tenantId, '/shared/deeper', tenantUrl, { priority: 1000 });
      await overlapping('acme-public', acme.tenantId, '/tenantpath', platformUrl);
      await overlapping('zz-beta-squat', beta.tenantId, '/tenantpath', tenantUrl, { priority: 1000 });
      await t.gateway.snapshot.reload();
      expect(t.gateway.snapshot.get('route', 'zz-beta-squat')!.path_prefix).toBe('/tenantpath');
    });

    test.each([
      ['/shared/x', 'the same prefix with a higher priority'],
      ['/shared/deeper/x', 'a longer prefix'],
    ])(
      'anonymous %s goes to the global route, not to a tenant route with %s; Authorization and Cookie with it',
      async (path) => {
        const before = tenantApi.seen.length;
        const res = await get(path, undefined, { authorization: 'Bearer backend-token', cookie: 'session=1' });
        expect(res.status).toBe(200);
        expect(tenantApi.seen.length).toBe(before);
        expect(platformApi.seen.at(-1)).toMatchObject({
          url: path,
          headers: { authorization: 'Bearer backend-token', cookie: 'session=1' },
        });
      },
    );

    test("a key of another tenant reaches the global route, never the squatter's", async () => {
      const before = tenantApi.seen.length;
      expect((await get('/shared/deeper/x', acme.key)).status).toBe(200);
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
      expect((await get('/tenantpath/y', acme.key)).status).toBe(200);
      expect(tenantApi.seen.length).toBe(before);
    });
  });
});
