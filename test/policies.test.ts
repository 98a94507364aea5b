import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/**
 * Policies through the admin API (issue 15): CRUD and versions from the registry, bodies in YAML or JSON validated per
 * type with the YAML line of each problem, status transitions, promotion with conflict detection, the dry-run, and
 * who may do what (platform roles write global policies, a tenant admin only its own tenant's).
 */

const RATE = 'limit: 10\nwindow_secs: 60\n';

describe.each(testDialects())('policies: admin API (%s)', (dialect) => {
  let t: TestGateway;
  const tokens: Record<string, string> = {};
  const token = async (name: string, role: string, tenant_id?: string) => {
    const res = await t.api('POST', '/v1/admin/tokens', { name, role, ...(tenant_id ? { tenant_id } : {}) });
    tokens[name] = res.body.token;
  };
  const events = async (type: string) =>
    (await t.api('GET', `/v1/admin/audit/events?type=${type}&limit=500`)).body.data as any[];

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    for (const id of ['acme', 'globex']) await t.api('POST', '/v1/admin/tenants', { id, name: id });
    await token('acme-admin', 'admin', 'acme');
    await token('acme-viewer', 'viewer', 'acme');
    await token('globex-admin', 'admin', 'globex');
    await token('policy-admin', 'policy-admin');
    await token('billing', 'billing-admin');
  });
  afterAll(() => t?.close());

  test('created in DRAFT, versioned on every change, rolled back to an earlier version', async () => {
    const created = await t.api('POST', '/v1/admin/policies', {
      id: 'acme-rate',
      tenant_id: 'acme',
      name: 'Acme rate',
      type: 'rate_limit',
      body: RATE,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'acme-rate',
      tenant_id: 'acme',
      status: 'DRAFT',
      version: 1,
      target: null, // its owner's traffic: the tenant's
      target_id: null,
      priority: 0,
      body: RATE,
    });
    const json = JSON.stringify({ limit: 20, window_secs: 60 });
    const updated = await t.api('PUT', '/v1/admin/policies/acme-rate', {
      name: 'Acme rate',
      type: 'rate_limit',
      body: json,
    });
    expect(updated.body).toMatchObject({ version: 2, body: json, status: 'DRAFT' });
    const versions = await t.api('GET', '/v1/admin/policies/acme-rate/versions');
    expect(versions.body.data.map((v: any) => v.version)).toEqual([2, 1]);
    const back = await t.api('POST', '/v1/admin/policies/acme-rate/rollback', { version: 1 });
    expect(back.body).toMatchObject({ version: 3, body: RATE });
    expect((await events('POLICY_ROLLED_BACK')).map((e) => e.resource.id)).toContain('acme-rate');
  });

  test('status is read-only in a body; it moves through /status and /promote, each change audited', async () => {
    const refused = await t.api('POST', '/v1/admin/policies', {
      tenant_id: 'acme',
      name: 'x',
      type: 'rate_limit',
      body: RATE,
      status: 'ACTIVE',
    });
    expect([refused.status, refused.body.error.details]).toEqual([400, [{ path: 'status', message: 'is read-only' }]]);

    const p = (
      await t.api('POST', '/v1/admin/policies', {
        tenant_id: 'acme',
        name: 'ip',
        type: 'ip_filter',
        body: 'deny: [10.0.0.0/8]',
      })
    ).body;
    expect(p.id).toMatch(/^pol_/);
    const to = (status: string) => t.api('POST', `/v1/admin/policies/${p.id}/status`, { status });
    expect((await t.api('POST', `/v1/admin/policies/${p.id}/promote`)).status).toBe(409); // DRAFT is not promoted
    expect((await to('SHADOW')).body.status).toBe('SHADOW');
    const promoted = await t.api('POST', `/v1/admin/policies/${p.id}/promote`);
    expect([promoted.status, promoted.body.status]).toEqual([200, 'ACTIVE']);
    const again = await to('ACTIVE');
    expect([again.status, again.body.error.code]).toEqual([409, 'CONFLICT']);
    expect((await to('DRAFT')).status).toBe(409); // ACTIVE goes to SHADOW or DISABLED
    expect((await to('DISABLED')).body.status).toBe('DISABLED');
    const bad = await to('ON');
    expect([bad.status, bad.body.error.details[0].path]).toEqual([400, 'status']);
    const changes = (await events('POLICY_STATUS_CHANGED')).filter((e) => e.resource.id === p.id);
    expect(changes.map((e) => e.changes.status.to)).toEqual(['DISABLED', 'ACTIVE', 'SHADOW']);
    expect(changes[1].changes.promoted).toEqual({ from: null, to: true });
  });

  test('a bad body is a 400 naming the path inside the body and its YAML line; nothing is stored', async () => {
    const before = (await t.api('GET', '/v1/admin/policies?tenant_id=acme&limit=500')).body.data.length;
    const cases: [Record<string, unknown>, { path: string; message: RegExp }[]][] = [
      [
        { type: 'rate_limit', body: 'limit: 10\nwindow_secs: 0\nburst: 3\n' },
        [
          { path: 'body.window_secs', message: /^line 2: / },
          { path: 'body.burst', message: /^line 3: is not a known field/ },
        ],
      ],
      [
        { type: 'guardrail', body: 'rules:\n  - pattern: "(unclosed"\n    action: block\n' },
        [{ path: 'body.rules.0.pattern', message: /^line 2: must be a regular expression .*missing closing \)/ }],
      ],
      [
        // lookaround and backreferences have no linear-time match (server/lib/linear-regex.ts)
        { type: 'guardrail', body: 'rules:\n  - action: redact\n    pattern: "secret(?=s)"\n' },
        [{ path: 'body.rules.0.pattern', message: /^line 3: must be a regular expression without backreferences/ }],
      ],
      [{ type: 'cors', body: 'allow_origins: [\n' }, [{ path: 'body', message: /^line \d+: / }]],
      [{ type: 'ip_filter', body: '{"allow": ["10.0.0.300/8"]}' }, [{ path: 'body.allow.0', message: /^line 1: / }]],
      [{ type: 'quota', body: 'limit: 5\n' }, [{ path: 'body.period', message: /^line 1: / }]],
      [{ type: 'firewall', body: RATE }, [{ path: 'type', message: /./ }]],
      [{ type: 'rate_limit', body: RATE, target: 'route' }, [{ path: 'target_id', message: /route/ }]],
      [{ type: 'rate_limit', body: RATE, target: 'global' }, [{ path: 'target', message: /global/ }]],
    ];
    for (const [body, details] of cases) {
      const res = await t.api('POST', '/v1/admin/policies', { tenant_id: 'acme', name: 'bad', ...body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      for (const d of details)
        expect(res.body.error.details).toContainEqual({ path: d.path, message: expect.stringMatching(d.message) });
    }
    expect((await t.api('GET', '/v1/admin/policies?tenant_id=acme&limit=500')).body.data.length).toBe(before);
  });

  test('promotion refuses a policy contradicting an ACTIVE one of the same type and target, naming both', async () => {
    const make = async (id: string, body: string) => {
      await t.api('POST', '/v1/admin/policies', { id, tenant_id: 'globex', name: id, type: 'quota', body });
      await t.api('POST', `/v1/admin/policies/${id}/status`, { status: 'SHADOW' });
    };
    await make('daily-100', 'limit: 100\nperiod: day\n');
    await make('daily-500', 'limit: 500\nperiod: day\n');
    await make('monthly-900', 'limit: 900\nperiod: month\n');
    expect((await t.api('POST', '/v1/admin/policies/daily-100/promote')).status).toBe(200);
    const clash = await t.api('POST', '/v1/admin/policies/daily-500/promote');
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toContain('"daily-500"');
    expect(clash.body.error.message).toContain('"daily-100"');
    expect((await t.api('GET', '/v1/admin/policies/daily-500')).body.status).toBe('SHADOW');
    // a monthly quota does not contradict a daily one: both apply
    expect((await t.api('POST', '/v1/admin/policies/monthly-900/promote')).status).toBe(200);
  });

  test('dry-run validates a YAML document and says what each policy decides about a sample request', async () => {
    const document = [
      'policies:',
      '  - name: office only',
      '    type: ip_filter',
      '    priority: 10',
      '    body:',
      '      allow: [192.0.2.0/24]',
      '  - name: no secrets',
      '    type: guardrail',
      '    body: |',
      '      rules:',
      '        - pattern: "sk-[a-z0-9]+"',
      '          action: redact',
      '  - name: tools',
      '    type: approval_gate',
      '    body: {tools: ["db.*"]}',
    ].join('\n');
    const count = async () => (await t.api('GET', '/v1/admin/policies?limit=500')).body.data.length;
    const before = await count();
    const run = (request: Record<string, unknown>, token?: string) =>
      t.api('POST', '/v1/admin/policies/dry-run', { document, request }, token);
    const outside = await run({
      tenant_id: 'acme',
      client_ip: '198.51.100.7',
      body: { messages: [{ content: 'key sk-abc123' }] },
    });
    expect(outside.status).toBe(200);
    expect(outside.body).toMatchObject({ valid: true, outcome: 'deny', decided_by: 'policy-0' });
    expect(outside.body.decisions.map((d: any) => [d.name, d.verdict])).toEqual([
      ['office only', 'deny'],
      ['no secrets', 'redact'],
      ['tools', 'skip'],
    ]);
    expect(outside.body.decisions[0].reason).toContain('198.51.100.7');
    const inside = await run({ client_ip: '192.0.2.9', headers: { 'X-MCP-Tool': 'db.query' } }, tokens['acme-viewer']);
    expect(inside.body.outcome).toBe('allow');
    expect(inside.body.decisions.map((d: any) => d.verdict)).toEqual(['allow', 'allow', 'require_approval']);
    expect(await count()).toBe(before);

    const broken = await t.api('POST', '/v1/admin/policies/dry-run', {
      request: { tenant_id: 'acme' },
      document: 'name: r\ntype: rate_limit\nbody:\n  limit: 10\n  window_secs: -1\n',
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error.details).toEqual([
      { path: 'document.body.window_secs', message: expect.stringMatching(/^line 5: /) },
    ]);
    const text = await t.api('POST', '/v1/admin/policies/dry-run', {
      request: { tenant_id: 'acme' },
      document: 'name: r\ntype: quota\nbody: |\n  limit: 10\n  period: weekly\n',
    });
    expect(text.body.error.details).toEqual([
      { path: 'document.body.period', message: expect.stringMatching(/^line 5: /) },
    ]);
    const syntax = await t.api('POST', '/v1/admin/policies/dry-run', { document: 'name: [\n' });
    expect([syntax.status, syntax.body.error.details[0].path]).toEqual([400, 'document']);
  });

  test('roles and tenants: who reads and writes which policies, by id, list, filter and every action', async () => {
    const acme = tokens['acme-admin']!;
    const globex = tokens['globex-admin']!;
    // a tenant admin writes its own tenant's policies (tenant_id narrowed), never global ones or another tenant's
    const own = await t.api(
      'POST',
      '/v1/admin/policies',
      { id: 'shared-id', name: 'a', type: 'rate_limit', body: RATE },
      acme,
    );
    expect([own.status, own.body.tenant_id]).toEqual([201, 'acme']);
    const theirs = await t.api(
      'POST',
      '/v1/admin/policies',
      { id: 'shared-id', name: 'g', type: 'rate_limit', body: RATE },
      globex,
    );
    expect([theirs.status, theirs.body.tenant_id]).toEqual([201, 'globex']);
    const global = await t.api(
      'POST',
      '/v1/admin/policies',
      { id: 'global-ip', name: 'g', type: 'ip_filter', target: 'global', body: 'deny: [203.0.113.0/24]' },
      tokens['policy-admin'],
    );
    expect([global.status, global.body.tenant_id]).toEqual([201, null]);
    const refusedGlobal = await t.api(
      'POST',
      '/v1/admin/policies',
      { tenant_id: null, name: 'g', type: 'ip_filter', target: 'global', body: 'deny: [203.0.113.0/24]' },
      acme,
    );
    expect(refusedGlobal.status).toBe(403);
    const foreign = await t.api(
      'POST',
      '/v1/admin/policies',
      { tenant_id: 'globex', name: 'x', type: 'rate_limit', body: RATE },
      acme,
    );
    expect([foreign.status, foreign.body.error.code]).toEqual([403, 'TENANT_SCOPE_VIOLATION']);
    expect(
      (await t.api('POST', '/v1/admin/policies', { name: 'b', type: 'rate_limit', body: RATE }, tokens.billing)).status,
    ).toBe(403);
    expect(
      (await t.api('POST', '/v1/admin/policies', { name: 'v', type: 'rate_limit', body: RATE }, tokens['acme-viewer']))
        .status,
    ).toBe(403);

    // reads: own and global, never another tenant's
    const list = (await t.api('GET', '/v1/admin/policies?limit=500', undefined, acme)).body.data;
    expect(new Set(list.map((p: any) => p.tenant_id))).toEqual(new Set(['acme', null]));
    expect((await t.api('GET', '/v1/admin/policies?tenant_id=globex', undefined, acme)).status).toBe(403);
    expect((await t.api('GET', '/v1/admin/policies/shared-id', undefined, acme)).body.tenant_id).toBe('acme');
    expect((await t.api('GET', '/v1/admin/policies/daily-100', undefined, acme)).status).toBe(404);
    expect((await t.api('GET', '/v1/admin/policies/shared-id?tenant_id=globex', undefined, acme)).status).toBe(403);

    // actions on another tenant's policy: 404 by id, 403 naming its tenant; on a global one: 403 to write, 200 to read
    for (const [method, sub, body] of [
      ['POST', 'status', { status: 'SHADOW' }],
      ['POST', 'promote', undefined],
      ['GET', 'shadow-stats', undefined],
      ['GET', 'versions', undefined],
      ['POST', 'rollback', { version: 1 }],
    ] as const) {
      expect((await t.api(method, `/v1/admin/policies/daily-100/${sub}`, body, acme)).status).toBe(404);
      expect((await t.api(method, `/v1/admin/policies/shared-id/${sub}?tenant_id=globex`, body, acme)).status).toBe(
        403,
      );
      const onGlobal = await t.api(method, `/v1/admin/policies/global-ip/${sub}`, body, acme);
      expect(onGlobal.status).toBe(method === 'GET' ? 200 : 403);
    }
    expect((await t.api('GET', '/v1/admin/policies/global-ip', undefined, null)).status).toBe(401);
    // the platform's own policy-admin manages any tenant's
    const byPlatform = await t.api(
      'POST',
      '/v1/admin/policies/shared-id/status?tenant_id=globex',
      { status: 'SHADOW' },
      tokens['policy-admin'],
    );
    expect(byPlatform.body).toMatchObject({ tenant_id: 'globex', status: 'SHADOW' });
    expect((await t.api('GET', '/v1/admin/policies/shared-id', undefined, acme)).body.status).toBe('DRAFT');
    // a tenant's dry-run may not name another tenant, in the request or the document
    const dry = (body: Record<string, unknown>) => t.api('POST', '/v1/admin/policies/dry-run', body, acme);
    expect(
      (await dry({ document: `name: x\ntype: quota\nbody: {limit: 1, period: day}`, request: { tenant_id: 'globex' } }))
        .status,
    ).toBe(403);
    expect(
      (await dry({ document: `name: x\ntenant_id: globex\ntype: quota\nbody: {limit: 1, period: day}` })).status,
    ).toBe(403);
    expect((await dry({ document: `name: x\ntype: quota\nbody: {limit: 1, period: day}` })).status).toBe(200);
  });

  test('the OpenAPI document lists every policy endpoint', async () => {
    const paths = (await t.api('GET', '/v1/admin/openapi.json', undefined, null)).body.paths;
    for (const p of [
      '/v1/admin/policies',
      '/v1/admin/policies/{id}',
      '/v1/admin/policies/{id}/versions',
      '/v1/admin/policies/{id}/rollback',
      '/v1/admin/policies/{id}/status',
      '/v1/admin/policies/{id}/promote',
      '/v1/admin/policies/{id}/shadow-stats',
      '/v1/admin/policies/dry-run',
    ])
      expect(Object.keys(paths)).toContain(p);
  });
});
