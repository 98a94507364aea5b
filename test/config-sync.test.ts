import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

describe.each(testDialects())('config export / import (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme', metadata: { team: 'ml' } });
    await t.api('POST', '/v1/admin/tenants', { id: 'beta', name: 'Beta' });
    await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'prod' });
    await t.api('POST', '/v1/admin/routes', { id: 'gpt', model_pattern: 'gpt*', providers: [{ provider: 'openai' }] });
    await t.api('POST', '/v1/admin/routes', {
      id: 'pay',
      tenant_id: 'acme',
      path_prefix: '/pay',
      backend_url: 'https://pay.example.com',
    });
    await t.api('POST', '/v1/admin/budgets', { id: 'acme-monthly', tenant_id: 'acme', limit_usd: 100 });
    await t.api('POST', '/v1/admin/webhooks', { id: 'ops', url: 'https://hooks.example.com/x', events: ['*'] });
  });
  afterAll(() => t?.close());

  const dump = async () => ({
    resources: await t.gateway.db.selectFrom('resources').selectAll().orderBy('kind').orderBy('id').execute(),
    versions: await t.gateway.db.selectFrom('resource_versions').selectAll().orderBy('id').orderBy('version').execute(),
    audit: await t.gateway.db.selectFrom('audit_events').select('seq').execute(),
  });
  const exportDoc = async () => (await t.api('GET', '/v1/admin/config/export')).body;
  const importDoc = (doc: unknown, query = 'mode=merge') => t.api('POST', `/v1/admin/config/import?${query}`, doc);
  const nothingElse = {
    skipped: [],
    warnings: [],
    generated_secrets: [],
    content_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
  };

  test('export holds every kind, secrets redacted, every kind a section; download=true is an attachment', async () => {
    const res = await t.api('GET', '/v1/admin/config/export?download=true');
    expect(res.headers['content-disposition']).toMatch(
      /^attachment; filename="portico-config-\d{4}-\d{2}-\d{2}\.json"$/,
    );
    const doc = res.body;
    expect(Object.keys(doc).sort()).toEqual(
      [
        'budgets',
        'exported_at',
        'mcp_servers',
        'policies',
        'pricing',
        'prompt_templates',
        'rate_limit_tiers',
        'routes',
        'schemas',
        'services',
        'tenants',
        'users',
        'version',
        'warnings',
        'webhooks',
      ].sort(),
    );
    expect(doc.tenants.map((x: any) => x.id)).toEqual(['acme', 'beta']);
    expect(doc.tenants[0]).toEqual({
      id: 'acme',
      name: 'Acme',
      status: 'ACTIVE',
      region: null,
      metadata: { team: 'ml' },
    });
    expect(doc.webhooks[0]).toEqual({
      id: 'ops',
      tenant_id: null,
      url: 'https://hooks.example.com/x',
      events: ['*'],
      active: true,
      secret_version: null,
      secret: '***',
    });
    expect(doc.policies).toEqual([]);
    expect(doc.warnings).toEqual(expect.arrayContaining([expect.stringContaining('webhooks.0.secret: redacted')]));
    expect(JSON.stringify(doc)).not.toMatch(/whsec_|ptc_key_/);
  });

  test('export then import of the same document reports zero changes and changes no resource', async () => {
    const before = await dump();
    for (const mode of ['merge', 'replace']) {
      const res = await importDoc(await exportDoc(), `mode=${mode}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        mode,
        dry_run: false,
        created: [],
        updated: [],
        deleted: [],
        unchanged: 6,
        ...nothingElse,
        audit_event_id: expect.stringMatching(/^evt_/),
      });
    }
    const after = await dump();
    expect(after.resources).toEqual(before.resources);
    expect(after.audit.length).toBe(before.audit.length + 2); // one CONFIG_IMPORTED each
  });

  test('the seed 002 workflow: export, edit, dry run (writes nothing), apply (one CONFIG_IMPORTED with the change list)', async () => {
    const doc = await exportDoc();
    doc.tenants[1].name = 'Beta Renamed';
    doc.routes.push({
      id: 'canary-gpt-4o',
      model_pattern: 'gpt-4o*',
      strategy: 'weighted',
      providers: [
        { provider: 'openai', weight: 90 },
        { provider: 'azure', weight: 10 },
      ],
    });
    const before = await dump();
    const dry = await importDoc(doc, 'mode=merge&dry_run=true');
    const { changes, ...counts } = dry.body;
    expect(counts).toEqual({
      mode: 'merge',
      dry_run: true,
      created: [{ kind: 'route', id: 'canary-gpt-4o' }],
      updated: [{ kind: 'tenant', id: 'beta' }],
      deleted: [],
      unchanged: 5,
      ...nothingElse,
    });
    expect(changes).toEqual([
      {
        op: 'update',
        kind: 'tenant',
        id: 'beta',
        tenant_id: null,
        changes: [{ path: 'name', before: 'Beta', after: 'Beta Renamed' }],
      },
      {
        op: 'create',
        kind: 'route',
        id: 'canary-gpt-4o',
        tenant_id: null,
        changes: expect.arrayContaining([
          { path: 'model_pattern', after: 'gpt-4o*' },
          { path: 'strategy', after: 'weighted' },
        ]),
      },
    ]);
    expect(await dump()).toEqual(before);

    const applied = await importDoc(doc);
    const { audit_event_id, ...appliedCounts } = applied.body;
    expect({ ...appliedCounts, dry_run: true }).toEqual(counts);
    expect((await t.api('GET', '/v1/admin/tenants/beta')).body.name).toBe('Beta Renamed');
    expect((await t.api('GET', '/v1/admin/routes/canary-gpt-4o')).body.providers[1]).toMatchObject({
      provider: 'azure',
      weight: 10,
    });
    const event = (await t.api('GET', '/v1/admin/audit/events?type=CONFIG_IMPORTED&limit=1')).body.data[0];
    expect(event.id).toBe(audit_event_id);
    expect(event.changes).toMatchObject({
      mode: 'merge',
      created: 1,
      updated: 1,
      deleted: 0,
      changes: { created: [{ kind: 'route', id: 'canary-gpt-4o' }], updated: [{ kind: 'tenant', id: 'beta' }] },
    });
    expect((await t.api('GET', '/v1/admin/audit/events?type=ROUTE_CREATED&limit=1')).body.data[0].resource.id).toBe(
      'canary-gpt-4o',
    );
  });

  test('merge never deletes; replace deletes what the document lacks', async () => {
    const doc = await exportDoc();
    doc.routes = doc.routes.filter((r: any) => r.id !== 'canary-gpt-4o');
    doc.webhooks = [];
    const merged = await importDoc(doc);
    expect(merged.body.deleted).toEqual([]);
    expect((await t.api('GET', '/v1/admin/routes/canary-gpt-4o')).status).toBe(200);
    const replaced = await importDoc(doc, 'mode=replace');
    expect(replaced.body.deleted).toEqual([
      { kind: 'webhook', id: 'ops' },
      { kind: 'route', id: 'canary-gpt-4o' },
    ]);
    expect((await t.api('GET', '/v1/admin/routes/canary-gpt-4o')).status).toBe(404);
    expect((await t.api('GET', '/v1/admin/webhooks/ops')).status).toBe(404);
  });

  test('"***" keeps the stored secret; a new value rotates it', async () => {
    const hook = (
      await t.api('POST', '/v1/admin/webhooks', { id: 'keep', url: 'https://k.example.com', events: ['*'] })
    ).body;
    const stored = async () =>
      (await t.gateway.db.selectFrom('resources').select('secret').where('id', '=', 'keep').executeTakeFirstOrThrow())
        .secret;
    const sealed = await stored();
    const doc = await exportDoc();
    expect((await importDoc(doc)).body.updated).toEqual([]);
    expect(await stored()).toBe(sealed);
    doc.webhooks.find((w: any) => w.id === 'keep').secret = 'whsec_rotated_by_import';
    expect((await importDoc(doc)).body.updated).toEqual([{ kind: 'webhook', id: 'keep' }]);
    expect(await stored()).not.toBe(sealed);
    expect(hook.secret).toMatch(/^whsec_/);
  });

  test('an invalid document gets a 400 naming the first invalid entry, and nothing is written', async () => {
    const before = await dump();
    const doc = await exportDoc();
    doc.routes.push(
      { id: 'ok', model_pattern: 'a*', providers: [{ provider: 'x' }] },
      { id: 'bad', model_pattern: 'b*', providers: [{ model: 'm' }] },
    );
    doc.mcp_servers = [{ id: 'p' }];
    const res = await importDoc(doc);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toContainEqual({ path: 'mcp_servers.0.name', message: 'is required' });
    delete doc.mcp_servers;
    const res2 = await importDoc(doc);
    expect(res2.body.error.details).toEqual([
      { path: `routes.${doc.routes.length - 1}.providers.0.provider`, message: 'is required' },
    ]);
    expect((await importDoc({ tenants: 'nope' })).body.error.details[0].path).toBe('tenants');
    expect(
      (
        await importDoc({
          tenants: [
            { id: 'a', name: 'A' },
            { id: 'a', name: 'B' },
          ],
        })
      ).body.error.details[0].path,
    ).toBe('tenants.1.id');
    expect(await dump()).toEqual(before);
  });

  test('an import that fails on its last entry leaves the database exactly as before', async () => {
    const before = await dump();
    const doc = await exportDoc();
    doc.tenants.push({ id: 'new-tenant', name: 'New' });
    doc.routes.push({ id: 'new-route', tenant_id: 'new-tenant', model_pattern: 'n*', providers: [{ provider: 'x' }] });
    doc.budgets.push({ id: 'orphan', tenant_id: 'ghost', limit_usd: 5 }); // valid in shape, fails when written
    const res = await importDoc(doc, 'mode=replace');
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]).toEqual({
      path: `budgets.${doc.budgets.length - 1}.tenant_id`,
      message: 'no tenant "ghost" exists',
    });
    expect(await dump()).toEqual(before);
    expect(t.gateway.snapshot.get('tenant', 'new-tenant')).toBeUndefined();
  });

  test('tenant scope, and only config writers may import', async () => {
    const scoped = (await t.api('GET', '/v1/admin/config/export?tenant_id=acme')).body;
    expect(scoped.tenants.map((x: any) => x.id)).toEqual(['acme']);
    expect(scoped.routes.map((x: any) => x.id)).toEqual(['pay']);
    expect(scoped.budgets.map((x: any) => x.id)).toEqual(['acme-monthly']);
    const viewer = (await t.api('POST', '/v1/admin/tokens', { name: 'v', role: 'policy-admin' })).body.token;
    expect((await t.api('POST', '/v1/admin/config/import', scoped, viewer)).status).toBe(403);
    expect((await t.api('GET', '/v1/admin/config/export', undefined, viewer)).status).toBe(200);
    expect((await importDoc({}, 'mode=sync')).body.error.details[0].path).toBe('mode');
  });
});
