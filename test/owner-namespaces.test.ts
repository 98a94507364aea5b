import { testDialects } from './support/databases';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp, type SeenRequest } from './support/mock-http';
import { MockLlm } from './support/mock-llm';

/**
 * A resource is identified by (kind, owner, id): the data plane resolves what a route names (its service, its
 * providers' credentials) in the route's tenant, then among global ones, and never in another tenant.
 */
describe.each(testDialects())('ids per owner on the data plane (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let llm: MockLlm;
  let llmUrl: string;
  const backends: Record<string, MockHttp> = {};
  const backendUrls: Record<string, string> = {};
  const keys: Record<string, string> = {};
  const tenants = ['acme', 'beta'];

  const create = async (path: string, body: Record<string, unknown>) => {
    const res = await t.api('POST', path, body);
    expect([res.status, res.text]).toEqual([201, expect.any(String)]);
    return res.body;
  };
  const inSnapshot = (kind: string, id: string, tenant: string | null) =>
    until(() => t.gateway.snapshot.get(kind, id, tenant)?.tenant_id === tenant);

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    data = await startDataPlane(t);
    llm = new MockLlm();
    llmUrl = await llm.start();
    for (const tenant of tenants) {
      backends[tenant] = new MockHttp();
      backendUrls[tenant] = await backends[tenant].start();
      await create('/v1/admin/tenants', { id: tenant, name: tenant });
      const key = await create(`/v1/admin/tenants/${tenant}/keys`, { name: 'prod' });
      keys[tenant] = key.key;
      await until(() => !!t.gateway.snapshot.get('api_key', key.id));
    }
  }, 120_000);
  afterAll(async () => {
    await data?.close();
    await t?.close();
    await llm?.stop();
    for (const backend of Object.values(backends)) await backend.stop();
  });

  test("the snapshot finds a tenant's own resource, else a global one, and never another tenant's", async () => {
    await create('/v1/admin/services', { id: 'ns-global', name: 'shared', target_url: backendUrls.acme });
    await create('/v1/admin/services', {
      id: 'ns-acme-only',
      tenant_id: 'acme',
      name: 'own',
      target_url: backendUrls.acme,
    });
    await inSnapshot('service', 'ns-global', null);
    await inSnapshot('service', 'ns-acme-only', 'acme');
    const { snapshot } = t.gateway;
    expect(snapshot.get('service', 'ns-global', 'beta')?.tenant_id).toBeNull();
    expect(snapshot.get('service', 'ns-acme-only', 'acme')?.tenant_id).toBe('acme');
    expect(snapshot.get('service', 'ns-acme-only', 'beta')).toBeUndefined();
    expect(snapshot.get('service', 'ns-acme-only', null)).toBeUndefined();
    expect(snapshot.ownedBy('service', 'acme').map((s) => s.id)).toContain('ns-acme-only');
    expect(snapshot.ownedBy('service', 'beta').map((s) => s.id)).not.toContain('ns-acme-only');
    expect(snapshot.ownedBy('service', null).map((s) => s.id)).toEqual(['ns-global']);
  });

  // needs per-tenant ids in the admin API (the lead's migration): until then the second create is a 409
  test('two tenants each own a service and a credential of the same id: each route reaches its own', async () => {
    for (const tenant of tenants) {
      await create('/v1/admin/services', {
        id: 'svc1',
        tenant_id: tenant,
        name: tenant,
        target_url: backendUrls[tenant],
      });
      await create('/v1/admin/credentials', {
        id: 'cred1',
        tenant_id: tenant,
        provider: 'openai',
        api_key: `sk-${tenant}-own`,
      });
      await create('/v1/admin/routes', {
        id: 'rt1',
        tenant_id: tenant,
        path_prefix: `/ns-${tenant}`,
        service_id: 'svc1',
        strip_prefix: true,
      });
      const providers = [{ provider: 'openai', base_url: llmUrl, credential_id: 'cred1' }];
      await create('/v1/admin/routes', { id: 'llm1', tenant_id: tenant, model_pattern: 'ns-model', providers });
      for (const [kind, id] of [
        ['service', 'svc1'],
        ['credential', 'cred1'],
        ['route', 'rt1'],
        ['route', 'llm1'],
      ]) {
        await inSnapshot(kind!, id!, tenant);
      }
    }
    for (const tenant of tenants) {
      const before = backends[tenant]!.seen.length;
      const res = await fetch(`${data.url}/ns-${tenant}/hello`, {
        headers: { authorization: `Bearer ${keys[tenant]}` },
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as SeenRequest).url).toBe('/hello');
      expect(backends[tenant]!.seen.length).toBe(before + 1);

      const calls = llm.calls.length;
      const chat = await fetch(`${data.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys[tenant]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'ns-model', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(chat.status).toBe(200);
      expect(llm.calls.slice(calls).map((c) => c.headers.authorization)).toEqual([`Bearer sk-${tenant}-own`]);
    }
    // neither backend was reached by the other tenant's request
    for (const tenant of tenants) expect(backends[tenant]!.seen.map((r) => r.url)).toEqual(['/hello']);
  });
});
