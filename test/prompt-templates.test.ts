import { testDialects } from './support/databases';
import { created, inSnapshot, setupTenant, uniqueId, type TenantSetup } from './support/fixtures';
import { startDataPlane, startTestGateway, type TestGateway } from './support/gateway';
import { MockLlm } from './support/mock-llm';

/**
 * Prompt templates: versioned `{{variable}}` templates managed per tenant (or globally), and chat requests naming one
 * with `prompt_template: {id, variables}` getting their messages built from it before the call goes upstream.
 */
describe.each(testDialects())('prompt templates (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let mock: MockLlm;
  let upstream: string;
  let acme: TenantSetup;
  let beta: TenantSetup;
  const admin: Record<string, string> = {};
  const url = '/v1/admin/prompt-templates';

  const chat = (key: string, body: unknown) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const llmTenant = () =>
    setupTenant(t, {
      credential: 'openai',
      route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: upstream }] },
    });

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    mock = new MockLlm();
    upstream = await mock.start();
    data = await startDataPlane(t);
    acme = await llmTenant();
    beta = await llmTenant();
    for (const s of [acme, beta])
      admin[s.tenantId] = (
        await created(t, '/v1/admin/tokens', { name: 'admin', role: 'admin', tenant_id: s.tenantId })
      ).token;
  });
  afterAll(async () => {
    await data?.close();
    await mock?.stop();
    await t?.close();
  });

  test('every change is a version; the last 10 are kept; rollback makes a new version with the old text', async () => {
    const tpl = await created(t, url, {
      tenant_id: acme.tenantId,
      name: 'support',
      template: 'v1 {{a}}',
      variables: ['a'],
    });
    expect(tpl).toMatchObject({ version: 1, variables: ['a'] });
    for (let v = 2; v <= 12; v++) {
      const res = await t.api('PUT', `${url}/${tpl.id}`, {
        name: 'support',
        template: `v${v} {{a}}`,
        variables: ['a'],
      });
      expect([v, res.status, res.body.version]).toEqual([v, 200, v]);
    }
    const versions = (await t.api('GET', `${url}/${tpl.id}/versions`)).body.data;
    expect(versions.map((v: { version: number }) => v.version)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
    const gone = await t.api('POST', `${url}/${tpl.id}/rollback`, { version: 1 });
    expect([gone.status, gone.body.error.details]).toEqual([404, [{ path: 'version', message: expect.any(String) }]]);
    const back = await t.api('POST', `${url}/${tpl.id}/rollback`, { version: 5 });
    expect([back.status, back.body.template, back.body.version]).toEqual([200, 'v5 {{a}}', 13]);
    const event = (await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0];
    expect(event).toMatchObject({ type: 'PROMPT_TEMPLATE_ROLLED_BACK', resource: { id: tpl.id } });
  });

  test('bad input is a 400 naming the field', async () => {
    const base = { tenant_id: acme.tenantId, name: 'n', template: 'Hi {{who}}', variables: ['who'] };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, variables: [] }, 'template'], // a placeholder not declared
      [{ ...base, variables: ['who', 'who'] }, 'variables'],
      [{ ...base, variables: ['9lives'] }, 'variables.0'],
      [{ ...base, template: '' }, 'template'],
      [{ ...base, name: undefined }, 'name'],
      [{ ...base, template: 42 }, 'template'],
    ];
    for (const [body, path] of cases) {
      const res = await t.api('POST', url, body);
      expect([path, res.status, res.body.error.code]).toEqual([path, 400, 'VALIDATION_FAILED']);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    const tpl = await created(t, url, base);
    const put = await t.api('PUT', `${url}/${tpl.id}`, { ...base, tenant_id: undefined, template: 'Hi {{whom}}' });
    expect([put.status, put.body.error.details[0].path]).toEqual([400, 'template']);
  });

  test("a tenant admin manages its own tenant's templates only; global ones it reads but cannot change", async () => {
    const own = await t.api('POST', url, { name: 'mine', template: 'x' }, admin[acme.tenantId]);
    expect([own.status, own.body.tenant_id]).toEqual([201, acme.tenantId]);
    const foreign = await t.api(
      'POST',
      url,
      { tenant_id: beta.tenantId, name: 'x', template: 'x' },
      admin[acme.tenantId],
    );
    expect(foreign.status).toBe(403);
    expect((await t.api('GET', `${url}/${own.body.id}`, undefined, admin[beta.tenantId])).status).toBe(404);
    const put = { name: 'changed', template: 'y' };
    expect((await t.api('PUT', `${url}/${own.body.id}`, put, admin[beta.tenantId])).status).toBe(404);
    expect((await t.api('DELETE', `${url}/${own.body.id}`, undefined, admin[beta.tenantId])).status).toBe(404);
    const listed = (await t.api('GET', `${url}?limit=500`, undefined, admin[beta.tenantId])).body.data;
    expect(listed.map((x: { tenant_id: string }) => x.tenant_id)).not.toContain(acme.tenantId);

    const global = await created(t, url, { id: uniqueId('global-tpl'), name: 'g', template: 'g' });
    expect((await t.api('GET', `${url}/${global.id}`, undefined, admin[acme.tenantId])).status).toBe(200);
    const change = await t.api('PUT', `${url}/${global.id}`, put, admin[acme.tenantId]);
    expect(change.status).toBeGreaterThanOrEqual(400);
    expect(change.status).toBeLessThan(500);
    expect((await t.api('GET', `${url}/${global.id}`)).body.template).toBe('g');
  });

  test('a chat request naming a template gets the rendered text as its first message; the field is not sent upstream', async () => {
    const tpl = await created(t, url, {
      tenant_id: acme.tenantId,
      name: 'translator',
      template: 'Translate into {{language}} for {{ audience }}.',
      variables: ['language', 'audience'],
    });
    await inSnapshot(t, 'prompt_template', tpl.id);
    const res = await chat(acme.key, {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Good morning' }],
      prompt_template: { id: tpl.id, variables: { language: 'French', audience: '{{language}} speakers' } },
    });
    expect(res.status).toBe(200);
    const sent = mock.calls.at(-1)!.body;
    expect(sent.prompt_template).toBeUndefined();
    expect(sent.messages).toEqual([
      // a value is inserted as it is: "{{language}}" in it is not rendered again
      { role: 'system', content: 'Translate into French for {{language}} speakers.' },
      { role: 'user', content: 'Good morning' },
    ]);

    // messages may be left out: the template alone is the prompt
    const alone = await chat(acme.key, {
      model: 'gpt-4o',
      prompt_template: { id: tpl.id, variables: { language: 'German', audience: 'children' } },
    });
    expect(alone.status).toBe(200);
    expect(mock.calls.at(-1)!.body.messages).toEqual([
      { role: 'system', content: 'Translate into German for children.' },
    ]);
  });

  test("a global template serves every tenant; another tenant's is unknown", async () => {
    const global = await created(t, url, { name: 'global', template: 'Be {{tone}}.', variables: ['tone'] });
    const own = await created(t, url, { tenant_id: beta.tenantId, name: 'beta only', template: 'beta' });
    await inSnapshot(t, 'prompt_template', global.id);
    await inSnapshot(t, 'prompt_template', own.id);
    const ok = await chat(acme.key, {
      model: 'gpt-4o',
      prompt_template: { id: global.id, variables: { tone: 'kind' } },
    });
    expect(ok.status).toBe(200);
    expect(mock.calls.at(-1)!.body.messages).toEqual([{ role: 'system', content: 'Be kind.' }]);
    const foreign = await chat(acme.key, { model: 'gpt-4o', prompt_template: { id: own.id } });
    // the data plane answers in OpenAI's error shape: `param` names the field
    expect([foreign.status, ((await foreign.json()) as any).error]).toEqual([
      400,
      {
        message: expect.stringContaining(own.id),
        type: 'invalid_request_error',
        code: 'validation_failed',
        param: 'prompt_template.id',
      },
    ]);
  });

  test('a missing, unknown or ill-typed variable, or a bad prompt_template, is a 400 naming it and calls nothing', async () => {
    const tpl = await created(t, url, { tenant_id: acme.tenantId, name: 'v', template: '{{a}}', variables: ['a'] });
    const proto = await created(t, url, {
      tenant_id: acme.tenantId,
      name: 'p',
      template: '{{constructor}}',
      variables: ['constructor'],
    });
    await inSnapshot(t, 'prompt_template', tpl.id);
    await inSnapshot(t, 'prompt_template', proto.id);
    const calls = mock.calls.length;
    const cases: [unknown, string][] = [
      [{ id: tpl.id }, 'prompt_template.variables.a'],
      [{ id: proto.id, variables: {} }, 'prompt_template.variables.constructor'],
      [{ id: tpl.id, variables: { a: 1 } }, 'prompt_template.variables.a'],
      [{ id: tpl.id, variables: { a: 'x', b: 'y' } }, 'prompt_template.variables.b'],
      [{ id: tpl.id, variables: ['x'] }, 'prompt_template.variables'],
      [{ id: 'no-such-template', variables: {} }, 'prompt_template.id'],
      [{ variables: {} }, 'prompt_template.id'],
      ['translator', 'prompt_template'],
    ];
    for (const [ref, path] of cases) {
      const res = await chat(acme.key, {
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'x' }],
        prompt_template: ref,
      });
      const body = (await res.json()) as any;
      expect([path, res.status, body.error.code, body.error.param]).toEqual([path, 400, 'validation_failed', path]);
    }
    expect(mock.calls.length).toBe(calls);
  });

  test('export → import round-trips templates: unchanged here, created as they are in a fresh gateway', async () => {
    const tpl = await created(t, url, { tenant_id: acme.tenantId, name: 'rt', template: 'Hi {{x}}', variables: ['x'] });
    const doc = (await t.api('GET', '/v1/admin/config/export')).body;
    expect(doc.prompt_templates).toContainEqual({
      id: tpl.id,
      tenant_id: acme.tenantId,
      name: 'rt',
      template: 'Hi {{x}}',
      variables: ['x'],
    });
    const same = await t.api('POST', '/v1/admin/config/import?mode=replace', doc);
    expect([same.status, same.body.created, same.body.updated, same.body.deleted]).toEqual([200, [], [], []]);

    const fresh = await startTestGateway(dialect, {}, { webhooks: false });
    try {
      expect((await fresh.api('POST', '/v1/admin/config/import?mode=replace', doc)).status).toBe(200);
      expect((await fresh.api('GET', '/v1/admin/config/export')).body.prompt_templates).toEqual(doc.prompt_templates);
      const arrived = await fresh.api('GET', `${url}/${tpl.id}?tenant_id=${acme.tenantId}`);
      expect(arrived.body).toMatchObject({ template: 'Hi {{x}}', version: 1 });
    } finally {
      await fresh.close();
    }
  });
});
