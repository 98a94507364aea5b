import { EXPORTED } from '../server/control/config-document';
import { RESOURCES } from '../server/resources';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/** An id the server made before ids were lower-case: it must keep importing. */
const LEGACY_BUDGET = 'bud_7SdJNww--I4F2bvf';
const LEGACY_ROUTE = 'rt_Ab-Cd_EfGhIjKlMnOp';

/** One of every kind, mostly with server-made ids, and the cases that used to break an import. */
async function populate(t: TestGateway) {
  const made: Record<string, string> = {};
  const ok = async (method: string, url: string, body: object) => {
    const res = await t.api(method, url, body);
    if (res.status !== 201) throw new Error(`${url}: ${res.status} ${res.text}`);
    return res.body;
  };
  await ok('POST', '/v1/admin/rate-limit-tiers', { id: 'gold', limit: 100, window_secs: 60 });
  await ok('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme', metadata: { team: 'ml' } });
  await ok('POST', '/v1/admin/tenants', { id: 'beta', name: 'Beta' });
  made.key = (await ok('POST', '/v1/admin/tenants/acme/keys', { name: 'prod', rate_limit_tier: 'gold' })).id;
  made.token = (await ok('POST', '/v1/admin/tokens', { name: 'acme admin', role: 'admin', tenant_id: 'acme' })).id;
  made.credential = (await ok('POST', '/v1/admin/credentials', { provider: 'openai', api_key: 'sk-global-1234' })).id;
  made.pricing = (
    await ok('POST', '/v1/admin/pricing', {
      provider: 'openai',
      model: 'gpt-4o',
      input_per_million_usd: 2.5,
      output_per_million_usd: 10,
    })
  ).id;
  made.service = (
    await ok('POST', '/v1/admin/services', {
      tenant_id: 'acme',
      name: 'orders',
      target_url: 'https://orders.example.com',
    })
  ).id;
  const provider = { provider: 'openai', credential_id: made.credential };
  made.llmRoute = (await ok('POST', '/v1/admin/routes', { model_pattern: 'gpt*', providers: [provider] })).id;
  made.httpRoute = (
    await ok('POST', '/v1/admin/routes', { tenant_id: 'acme', path_prefix: '/orders', service_id: made.service })
  ).id;
  await ok('POST', '/v1/admin/routes', {
    id: LEGACY_ROUTE,
    tenant_id: 'beta',
    path_prefix: '/beta',
    backend_url: 'https://beta.example.com',
  });
  made.tenantBudget = (await ok('POST', '/v1/admin/budgets', { tenant_id: 'acme', limit_usd: 100 })).id;
  made.keyBudget = (
    await ok('POST', '/v1/admin/budgets', { tenant_id: 'acme', api_key_id: made.key, limit_usd: 5 })
  ).id;
  await ok('POST', '/v1/admin/budgets', { id: LEGACY_BUDGET, tenant_id: 'beta', limit_usd: 7 });
  made.webhook = (await ok('POST', '/v1/admin/webhooks', { url: 'https://hooks.example.com/all', events: ['*'] })).id;
  made.tenantWebhook = (
    await ok('POST', '/v1/admin/webhooks', {
      tenant_id: 'acme',
      url: 'https://hooks.example.com/acme',
      events: ['ROUTE_UPDATED'],
      secret: 'given-secret',
    })
  ).id;
  return made;
}

describe.each(testDialects())('export → import round trip (%s)', (dialect) => {
  let t: TestGateway;
  let made: Record<string, string>;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    made = await populate(t);
  });
  afterAll(() => t?.close());

  const dump = async (g: TestGateway) => ({
    resources: await g.gateway.db.selectFrom('resources').selectAll().orderBy('kind').orderBy('id').execute(),
    versions: await g.gateway.db.selectFrom('resource_versions').selectAll().orderBy('id').orderBy('version').execute(),
  });
  const exportOf = async (g: TestGateway) => (await g.api('GET', '/v1/admin/config/export')).body;
  const sections = (doc: any) => Object.fromEntries(EXPORTED.map((d) => [d.exportKey!, doc[d.exportKey!]]));
  const itemCount = (doc: any) => EXPORTED.reduce((n, d) => n + doc[d.exportKey!].length, 0);

  test('ids the server makes are lower-case slugs with the kind prefix', () => {
    for (const [what, id] of Object.entries(made))
      expect([what, id]).toEqual([what, expect.stringMatching(/^[a-z]+_[0-9a-f]{24}$/)]);
  });

  test('into the gateway it came from: dry run and real run, merge and replace, change nothing', async () => {
    const doc = await exportOf(t);
    const before = await dump(t);
    for (const mode of ['merge', 'replace']) {
      for (const dry of ['true', 'false']) {
        const res = await t.api('POST', `/v1/admin/config/import?mode=${mode}&dry_run=${dry}`, doc);
        expect([mode, dry, res.status]).toEqual([mode, dry, 200]);
        expect(res.body).toMatchObject({
          created: [],
          updated: [],
          deleted: [],
          skipped: [],
          generated_secrets: [],
          unchanged: itemCount(doc),
        });
      }
    }
    expect(await dump(t)).toEqual(before);
  });

  test('the export says which entries may not import elsewhere', async () => {
    const doc = await exportOf(t);
    const i = doc.budgets.findIndex((b: any) => b.id === made.keyBudget);
    expect(doc.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^budgets\\.${i}\\.api_key_id: .*not exported.*skips`)),
      ]),
    );
    expect(doc.warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/^webhooks\.0\.secret: .*generated and returned once/)]),
    );
  });

  test('into a fresh gateway: dry runs and a real import succeed, and its export equals the first but for what it said', async () => {
    const doc = await exportOf(t);
    const fresh = await startTestGateway(dialect, {}, { webhooks: false });
    try {
      const skipped = [{ kind: 'budget', id: made.keyBudget }];
      const total = itemCount(doc);
      for (const mode of ['merge', 'replace']) {
        const dry = await fresh.api('POST', `/v1/admin/config/import?mode=${mode}&dry_run=true`, doc);
        expect([mode, dry.status]).toEqual([mode, 200]);
        expect(dry.body).toMatchObject({ updated: [], deleted: [], unchanged: 0, skipped, generated_secrets: [] });
        expect(dry.body.created).toHaveLength(total - 1);
      }
      expect((await dump(fresh)).resources).toEqual([]);

      const real = await fresh.api('POST', '/v1/admin/config/import?mode=replace', doc);
      expect(real.status).toBe(200);
      expect(real.body.skipped).toEqual(skipped);
      expect(real.body.warnings).toEqual(
        expect.arrayContaining([expect.stringContaining(`no api_key "${made.key}" exists here`)]),
      );
      const secrets = real.body.generated_secrets.map((s: any) => `${s.kind}/${s.id}/${s.field}`).sort();
      expect(secrets).toEqual([`webhook/${made.webhook}/secret`, `webhook/${made.tenantWebhook}/secret`].sort());
      expect(real.body.generated_secrets.every((s: any) => s.value.startsWith('whsec_'))).toBe(true);

      const again = await exportOf(fresh);
      const expected = sections(doc);
      expected.budgets = expected.budgets.filter((b: any) => b.id !== made.keyBudget);
      expect(sections(again)).toEqual(expected);

      // and that export, or the first one again, imports into the fresh gateway with no changes
      for (const d of [again, doc]) {
        const res = await fresh.api('POST', '/v1/admin/config/import?mode=replace', d);
        expect(res.body).toMatchObject({
          created: [],
          updated: [],
          deleted: [],
          generated_secrets: [],
          skipped: d === doc ? skipped : [],
        });
      }
    } finally {
      await fresh.close();
    }
  });
});

/** How to make one resource of a kind that names another (`field`), and how to delete each, per registry reference. */
const REFERENCES: Record<
  string,
  {
    target: (t: TestGateway) => Promise<[id: string, url: string]>;
    referrer: (t: TestGateway, id: string) => Promise<string>;
  }
> = {
  'api_key.rate_limit_tier': {
    target: async (t) => {
      const id = (await t.api('POST', '/v1/admin/rate-limit-tiers', { id: 'silver', limit: 1, window_secs: 1 })).body
        .id;
      return [id, `/v1/admin/rate-limit-tiers/${id}`];
    },
    referrer: async (t, id) =>
      `/v1/admin/tenants/acme/keys/${(await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'k', rate_limit_tier: id })).body.id}`,
  },
  'route.service_id': {
    target: async (t) => {
      const id = (await t.api('POST', '/v1/admin/services', { name: 's', target_url: 'https://s.example.com' })).body
        .id;
      return [id, `/v1/admin/services/${id}`];
    },
    referrer: async (t, id) =>
      `/v1/admin/routes/${(await t.api('POST', '/v1/admin/routes', { tenant_id: 'acme', path_prefix: '/s', service_id: id })).body.id}`,
  },
  'budget.api_key_id': {
    target: async (t) => {
      const id = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'capped' })).body.id;
      return [id, `/v1/admin/tenants/acme/keys/${id}`];
    },
    referrer: async (t, id) =>
      `/v1/admin/budgets/${(await t.api('POST', '/v1/admin/budgets', { tenant_id: 'acme', api_key_id: id, limit_usd: 1 })).body.id}`,
  },
};

describe.each(testDialects())('deleting what others name (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
  });
  afterAll(() => t?.close());

  test('the table covers every reference the registry declares', () => {
    const declared = RESOURCES.flatMap((d) => Object.keys(d.references ?? {}).map((f) => `${d.kind}.${f}`));
    expect(Object.keys(REFERENCES).sort()).toEqual(declared.sort());
  });

  test.each(Object.keys(REFERENCES))('%s: 409 naming how many name it, until they are gone', async (ref) => {
    const [kind] = ref.split('.');
    const [id, url] = await REFERENCES[ref]!.target(t);
    const first = await REFERENCES[ref]!.referrer(t, id);
    const second = await REFERENCES[ref]!.referrer(t, id);
    const refused = await t.api('DELETE', url);
    expect([refused.status, refused.body.error.code]).toEqual([409, 'CONFLICT']);
    expect(refused.body.error.message).toContain(`is still named by 2 ${kind}s`);
    expect((await t.api('GET', url)).status).toBe(200);
    expect((await t.api('DELETE', first)).status).toBe(204);
    expect((await t.api('DELETE', url)).body.error.message).toContain(`is still named by 1 ${kind};`);
    expect((await t.api('DELETE', second)).status).toBe(204);
    expect((await t.api('DELETE', url)).status).toBe(204);
  });

  test('a delete racing a resource that names its target: never both succeed', async () => {
    for (let n = 0; n < 5; n++) {
      const service = (await t.api('POST', '/v1/admin/services', { name: 's', target_url: 'https://s.example.com' }))
        .body.id;
      const [created, deleted] = await Promise.all([
        t.api('POST', '/v1/admin/routes', { tenant_id: 'acme', path_prefix: `/race-${n}`, service_id: service }),
        t.api('DELETE', `/v1/admin/services/${service}`),
      ]);
      expect([
        [201, 409],
        [400, 204],
      ]).toContainEqual([created.status, deleted.status]);
    }
  });

  test('a tenant deleted with cascade takes resources that name each other with it', async () => {
    await t.api('POST', '/v1/admin/tenants', { id: 'doomed', name: 'Doomed' });
    const key = (await t.api('POST', '/v1/admin/tenants/doomed/keys', { name: 'k' })).body.id;
    expect(
      (await t.api('POST', '/v1/admin/budgets', { tenant_id: 'doomed', api_key_id: key, limit_usd: 1 })).status,
    ).toBe(201);
    expect((await t.api('DELETE', '/v1/admin/tenants/doomed?cascade=true')).status).toBe(204);
  });
});
