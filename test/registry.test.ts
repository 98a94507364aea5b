import { RESOURCES } from '../server/resources';
import { schemasFor } from '../server/resources/schemas';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/** A minimal valid create body for each resource, and the path to post it to. */
const SAMPLES: Record<string, { path: string; body: Record<string, unknown> }> = {
  rate_limit_tier: {
    path: '/v1/admin/rate-limit-tiers',
    body: { id: 'gold', limit: 1000, window_secs: 60, daily_quota: 100000 },
  },
  tenant: { path: '/v1/admin/tenants', body: { id: 'reg-tenant', name: 'Registry' } },
  api_key: { path: '/v1/admin/tenants/reg-tenant/keys', body: { name: 'k' } },
  token: { path: '/v1/admin/tokens', body: { name: 't', role: 'viewer', tenant_id: 'reg-tenant' } },
  credential: { path: '/v1/admin/credentials', body: { provider: 'openai', api_key: 'sk-test-1234567890' } },
  pricing: {
    path: '/v1/admin/pricing',
    body: { provider: 'openai', model: 'gpt-4o', input_per_million_usd: 2.5, output_per_million_usd: 10 },
  },
  service: {
    path: '/v1/admin/services',
    body: { name: 'billing', target_url: 'http://127.0.0.1:9/billing', health_check_path: '/healthz' },
  },
  route: {
    path: '/v1/admin/routes',
    body: { id: 'gpt-route', model_pattern: 'gpt*', strategy: 'model-prefix', providers: [{ provider: 'openai' }] },
  },
  budget: {
    path: '/v1/admin/budgets',
    body: { tenant_id: 'reg-tenant', period: 'MONTHLY', limit_usd: 100, enforcement: 'HARD' },
  },
  webhook: { path: '/v1/admin/webhooks', body: { url: 'https://hooks.example.com/portico', events: ['*'] } },
  policy: {
    path: '/v1/admin/policies',
    body: { tenant_id: 'reg-tenant', name: 'p', type: 'quota', body: 'limit: 100\nperiod: day\n' },
  },
  schema: {
    path: '/v1/admin/schemas',
    body: { id: 'person-v1', schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
  },
  user: {
    path: '/v1/admin/users',
    body: { email: 'reg@example.com', name: 'Reg', role: 'viewer', tenant_id: 'reg-tenant', password: 'a long secret' },
  },
  prompt_template: {
    path: '/v1/admin/prompt-templates',
    body: { name: 'summary', template: 'Summarise in {{words}} words', variables: ['words'] },
  },
  mcp_server: {
    path: '/v1/admin/mcp-servers',
    body: { name: 'registry mcp', url: 'https://mcp.example.com/mcp', auth_header: 'Bearer registry-secret' },
  },
};

describe.each(testDialects())('resource registry (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect);
  });
  afterAll(() => t?.close());

  test('every resource has a sample here, so the checks below cover the whole registry', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(RESOURCES.map((r) => r.kind).sort());
  });

  test('GET returns exactly the output schema: every accepted field, defaults filled in, nothing else', async () => {
    for (const def of RESOURCES) {
      const sample = SAMPLES[def.kind]!;
      const created = await t.api('POST', sample.path, sample.body);
      expect(created.status).toBe(201);
      const read = await t.api('GET', `${sample.path}/${created.body.id}`);
      expect(read.status).toBe(200);
      const parsed = schemasFor(def).output.safeParse(read.body);
      expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
      for (const field of Object.keys(def.fields.shape)) expect(read.body).toHaveProperty(field);
      for (const [field, value] of Object.entries(sample.body).filter(([f]) => f !== def.secret?.field))
        expect(read.body[field]).toEqual(
          field === 'providers' ? [expect.objectContaining((value as object[])[0])] : value,
        );
    }
  });

  test('the OpenAPI document lists every resource operation, built from the registered routes', async () => {
    const doc = (await t.api('GET', '/v1/admin/openapi.json', undefined, null)).body;
    expect(doc.openapi).toBe('3.1.0');
    for (const def of RESOURCES) {
      const base = `/v1/admin${def.path}`;
      expect(Object.keys(doc.paths[base]).sort()).toEqual(['get', 'post']);
      const one = Object.keys(doc.paths[`${base}/{id}`]).sort();
      expect(one).toEqual(def.updatable === false ? ['delete', 'get'] : ['delete', 'get', 'put']);
      for (const action of Object.keys(def.actions ?? {}))
        expect(doc.paths[`${base}/{id}/${action}`].post).toBeDefined();
      const body = doc.paths[base].post.requestBody.content['application/json'].schema;
      expect(body.additionalProperties).toBe(false);
      expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(Object.keys(def.fields.shape)));
    }
    expect(doc.paths['/v1/admin/audit/verify'].get).toBeDefined();
    const page = await t.admin.inject('/docs');
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('/v1/admin/tenants/{tenant_id}/keys');
  });
});
