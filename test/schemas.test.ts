import { testDialects } from './support/databases';
import { created, inSnapshot, setupTenant, uniqueId } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockLlm } from './support/mock-llm';

/**
 * Registered output schemas (seed 001, `/v1/admin/schemas`): the admin API with its access rules and bad input, and
 * the LLM proxy inlining a schema named by id and reporting answers that do not satisfy it.
 */
const PERSON = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' } },
  required: ['name', 'age'],
};
const hi = [{ role: 'user', content: 'hi' }];

/** A chat completion whose message content is `content`, as the mock upstream answers it. */
const answerWith = (content: string) =>
  JSON.stringify({
    id: 'chatcmpl-s',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-x',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  });

describe.each(testDialects())('output schemas (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let mock: MockLlm;
  let upstream: string;
  const tokenFor = async (role: string, tenantId: string | null) =>
    (
      await created(t, '/v1/admin/tokens', {
        name: `${role} token`,
        role,
        ...(tenantId ? { tenant_id: tenantId } : {}),
      })
    ).token as string;

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    mock = new MockLlm();
    upstream = await mock.start();
    data = await startDataPlane(t);
  });
  afterAll(async () => {
    await data?.close();
    await mock?.stop();
    await t?.close();
  });
  afterEach(() => {
    mock.rawAnswer = undefined;
  });

  test("the seed's calls: create, list, get, PUT replaces the schema, delete", async () => {
    const id = uniqueId('person-v1');
    const create = await t.api('POST', '/v1/admin/schemas', { id, schema: PERSON });
    expect(create.status).toBe(201);
    expect(create.body).toEqual({
      id,
      tenant_id: null,
      schema: PERSON,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect((await t.api('GET', '/v1/admin/schemas?limit=500')).body.data).toContainEqual(create.body);
    expect((await t.api('GET', `/v1/admin/schemas/${id}`)).body).toEqual(create.body);
    const replaced = { type: 'object', properties: { title: { type: 'string' } } };
    const put = await t.api('PUT', `/v1/admin/schemas/${id}`, { schema: replaced });
    expect(put.status).toBe(200);
    expect(put.body.schema).toEqual(replaced); // the whole body replaced: nothing of PERSON is left
    const events = (await t.api('GET', '/v1/admin/audit/events?limit=2')).body.data.map((e: any) => e.type);
    expect(events).toEqual(['SCHEMA_UPDATED', 'SCHEMA_CREATED']);
    expect((await t.api('DELETE', `/v1/admin/schemas/${id}`)).status).toBe(204);
    expect((await t.api('GET', `/v1/admin/schemas/${id}`)).status).toBe(404);
  });

  test('a body that is not a JSON Schema is a 400 naming the path inside it, and nothing is written', async () => {
    const cases: [unknown, string][] = [
      [{ type: 'object', properties: { age: { type: 'integr' } } }, 'schema.properties.age.type'],
      [{ type: 'object', required: 'name' }, 'schema.required'],
      [{ minLength: -1 }, 'schema.minLength'],
      [{ $ref: '#/definitions/missing' }, 'schema'], // meta-valid, but does not compile
      [{ type: 'string', pattern: '(' }, 'schema'], // not a regular expression
      [{ type: 'string', pattern: 'a(?=b)' }, 'schema'], // lookaround: no linear-time match (server/lib/linear-regex.ts)
      [{ $ref: 'https://example.com/remote.json' }, 'schema'], // remote references are never fetched
      [[{ type: 'string' }], 'schema'],
      ['{"type":"object"}', 'schema'],
      [null, 'schema'],
    ];
    for (const [schema, path] of cases) {
      const id = uniqueId('bad');
      const res = await t.api('POST', '/v1/admin/schemas', { id, schema });
      expect([res.status, res.body.error.code, res.body.error.details[0].path]).toEqual([
        400,
        'VALIDATION_FAILED',
        path,
      ]);
      expect((await t.api('GET', `/v1/admin/schemas/${id}`)).status).toBe(404);
    }
    // a PUT is checked the same way, and leaves the stored schema as it was
    const id = uniqueId('kept');
    await created(t, '/v1/admin/schemas', { id, schema: PERSON });
    const put = await t.api('PUT', `/v1/admin/schemas/${id}`, { schema: { type: 5 } });
    expect([put.status, put.body.error.details[0].path]).toEqual([400, 'schema.type']);
    expect((await t.api('GET', `/v1/admin/schemas/${id}`)).body.schema).toEqual(PERSON);
    // the seed's fields only: id and schema (and the owner)
    const extra = await t.api('POST', '/v1/admin/schemas', { id: uniqueId('x'), schema: PERSON, strict: true });
    expect([extra.status, extra.body.error.details[0].path]).toEqual([400, 'strict']);
    const missing = await t.api('POST', '/v1/admin/schemas', { id: uniqueId('x') });
    expect([missing.status, missing.body.error.details[0].path]).toEqual([400, 'schema']);
  });

  test('huge and deep bodies are refused with a 4xx, never a 5xx', async () => {
    const wide = { type: 'object', properties: {} as Record<string, unknown> };
    for (let i = 0; i < 3000; i++) wide.properties[`field_${i}`] = { type: 'string', description: 'x'.repeat(20) };
    const big = await t.api('POST', '/v1/admin/schemas', { id: uniqueId('big'), schema: wide });
    expect([big.status, big.body.error.details[0]]).toEqual([
      400,
      { path: 'schema', message: expect.stringMatching(/64 KiB|65536 bytes/) },
    ]);
    const huge = await t.api('POST', '/v1/admin/schemas', {
      id: uniqueId('huge'),
      schema: { description: 'x'.repeat(2 * 1024 * 1024) },
    });
    expect(huge.status).toBe(413);
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 200; i++) deep = { type: 'object', properties: { a: deep } };
    const nested = await t.api('POST', '/v1/admin/schemas', { id: uniqueId('deep'), schema: deep });
    expect([nested.status, nested.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  test("tenant admins manage their tenant's schemas; developers read; global ones are the platform's to write", async () => {
    const a = await setupTenant(t);
    const b = await setupTenant(t);
    const [adminA, developerA, adminB] = await Promise.all([
      tokenFor('admin', a.tenantId),
      tokenFor('developer', a.tenantId),
      tokenFor('admin', b.tenantId),
    ]);
    const globalId = uniqueId('global');
    await created(t, '/v1/admin/schemas', { id: globalId, schema: PERSON });

    // a tenant admin's create is its tenant's, without naming it
    const own = await t.api('POST', '/v1/admin/schemas', { id: uniqueId('own'), schema: PERSON }, adminA);
    expect([own.status, own.body.tenant_id]).toEqual([201, a.tenantId]);
    // it cannot write a global one, nor another tenant's, nor change the platform's
    const global = await t.api(
      'POST',
      '/v1/admin/schemas',
      { id: uniqueId('g'), tenant_id: null, schema: PERSON },
      adminA,
    );
    expect(global.status).toBe(403);
    const other = await t.api(
      'POST',
      '/v1/admin/schemas',
      { id: uniqueId('o'), tenant_id: b.tenantId, schema: PERSON },
      adminA,
    );
    expect([other.status, other.body.error.code]).toEqual([403, 'TENANT_SCOPE_VIOLATION']);
    expect((await t.api('PUT', `/v1/admin/schemas/${globalId}`, { schema: {} }, adminA)).status).toBe(403);
    expect((await t.api('DELETE', `/v1/admin/schemas/${globalId}`, undefined, adminA)).status).toBe(403);
    // a developer reads its tenant's and global ones, and writes nothing
    expect((await t.api('GET', `/v1/admin/schemas/${own.body.id}`, undefined, developerA)).status).toBe(200);
    expect((await t.api('GET', `/v1/admin/schemas/${globalId}`, undefined, developerA)).status).toBe(200);
    const devWrite = await t.api('POST', '/v1/admin/schemas', { id: uniqueId('d'), schema: PERSON }, developerA);
    expect(devWrite.status).toBe(403);
    // another tenant sees none of it: not by id, not in its list
    expect((await t.api('GET', `/v1/admin/schemas/${own.body.id}`, undefined, adminB)).status).toBe(404);
    expect((await t.api('PUT', `/v1/admin/schemas/${own.body.id}`, { schema: {} }, adminB)).status).toBe(404);
    expect((await t.api('DELETE', `/v1/admin/schemas/${own.body.id}`, undefined, adminB)).status).toBe(404);
    const listB = (await t.api('GET', '/v1/admin/schemas?limit=500', undefined, adminB)).body.data;
    expect(listB.map((s: any) => s.tenant_id).filter((x: string | null) => x !== null && x !== b.tenantId)).toEqual([]);
    expect(listB.map((s: any) => s.id)).toContain(globalId);
  });

  /** A tenant with an LLM route to the mock for `gpt*` (route fields as given). */
  const llmTenant = (route: Record<string, unknown> = {}) =>
    setupTenant(t, {
      credential: 'openai',
      route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: upstream }], ...route },
    });
  const chat = (key: string, body: Record<string, unknown>) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-x', messages: hi, ...body }),
    });
  const byId = (id: string, extra: Record<string, unknown> = {}) => ({
    response_format: { type: 'json_schema', json_schema: { id, ...extra } },
  });
  const logOf = async (requestId: string | null) => {
    await data.app.dataPlane.requestLogs.flush();
    return t.gateway.db.selectFrom('request_logs').selectAll().where('request_id', '=', requestId!).executeTakeFirst();
  };

  test('a request naming a schema by id gets it inlined upstream; an answer that satisfies it is reported as passed', async () => {
    const acme = await llmTenant();
    const id = uniqueId('person.v1');
    await created(t, '/v1/admin/schemas', { id, tenant_id: acme.tenantId, schema: PERSON });
    await inSnapshot(t, 'schema', id);
    mock.rawAnswer = answerWith('{"name":"Ada","age":36}');
    const res = await chat(acme.key, byId(id, { strict: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-portico-schema-validation')).toBe('passed');
    expect(mock.calls.at(-1)!.body.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: id.replace(/\./g, '_'), strict: true, schema: PERSON },
    });
    expect(await logOf(res.headers.get('x-request-id'))).toMatchObject({ schema_validation: 'passed', status: 200 });
    // read back through the admin API too
    const logs = await t.api('GET', `/v1/admin/request-logs?tenant_id=${acme.tenantId}`);
    expect(logs.body.data[0]).toMatchObject({ schema_validation: 'passed' });
  });

  test('schema patterns run in linear time: an answer that backtracks for ever elsewhere is checked', async () => {
    const acme = await llmTenant();
    const id = uniqueId('slow');
    // on V8's own engine this pattern is exponential in the length of the text it fails on
    const schema = { type: 'object', properties: { name: { type: 'string', pattern: '^(a|a)*b$' } } };
    await created(t, '/v1/admin/schemas', { id, tenant_id: acme.tenantId, schema });
    await inSnapshot(t, 'schema', id);
    mock.rawAnswer = answerWith(JSON.stringify({ name: 'a'.repeat(20_000) }));
    const res = await chat(acme.key, byId(id));
    expect([res.status, res.headers.get('x-portico-schema-validation')]).toEqual([200, 'failed']);
  });

  test('an answer that does not satisfy the schema is reported (header, request log), or refused on a rejecting route', async () => {
    const acme = await llmTenant();
    const id = uniqueId('person');
    await created(t, '/v1/admin/schemas', { id, tenant_id: acme.tenantId, schema: PERSON });
    await inSnapshot(t, 'schema', id);
    mock.rawAnswer = answerWith('{"name":"Ada"}');
    const res = await chat(acme.key, byId(id));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-portico-schema-validation')).toBe('failed');
    expect(res.headers.get('x-portico-schema-error')).toMatch(
      /^choices\.0\.message\.content: must have required property 'age'/,
    );
    expect(await logOf(res.headers.get('x-request-id'))).toMatchObject({ schema_validation: 'failed', status: 200 });
    mock.rawAnswer = answerWith('not json at all');
    const notJson = await chat(acme.key, byId(id));
    expect(notJson.headers.get('x-portico-schema-error')).toMatch(/not JSON/);

    const strict = await llmTenant({ schema_enforcement: 'reject' });
    await created(t, '/v1/admin/schemas', { id, tenant_id: strict.tenantId, schema: PERSON });
    await until(() => !!t.gateway.snapshot.get('schema', id, strict.tenantId)); // acme's of that id is there already
    mock.rawAnswer = answerWith('{"name":"Ada"}');
    const refused = await chat(strict.key, byId(id));
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as any).error.code).toBe('schema_violation');
    expect(await logOf(refused.headers.get('x-request-id'))).toMatchObject({
      schema_validation: 'failed',
      status: 502,
    });
    mock.rawAnswer = answerWith('{"name":"Ada","age":1}');
    expect((await chat(strict.key, byId(id))).status).toBe(200);
  });

  test('a streamed answer passes through as it came and is checked at its end, into the request log', async () => {
    const acme = await llmTenant();
    const id = uniqueId('streamed');
    await created(t, '/v1/admin/schemas', { id, tenant_id: acme.tenantId, schema: PERSON });
    await inSnapshot(t, 'schema', id);
    const res = await chat(acme.key, { ...byId(id), stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"content":"Hel"'); // the mock's "Hello", which is no JSON at all
    expect(mock.calls.at(-1)!.body.response_format.json_schema.schema).toEqual(PERSON);
    expect(await logOf(res.headers.get('x-request-id'))).toMatchObject({ schema_validation: 'failed', status: 200 });
  });

  test("an unknown id, or another tenant's, is a 400; a global schema serves every tenant; inline schemas pass as they are", async () => {
    const acme = await llmTenant();
    const beta = await llmTenant();
    const betaOnly = uniqueId('beta-only');
    await created(t, '/v1/admin/schemas', { id: betaOnly, tenant_id: beta.tenantId, schema: PERSON });
    await inSnapshot(t, 'schema', betaOnly);
    const calls = mock.calls.length;
    for (const [body, param] of [
      [byId('no-such-schema'), 'response_format.json_schema.id'],
      [byId(betaOnly), 'response_format.json_schema.id'],
      [byId(''), 'response_format.json_schema.id'],
      [byId(betaOnly, { schema: PERSON }), 'response_format.json_schema.schema'],
    ] as const) {
      const res = await chat(acme.key, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'validation_failed', param });
    }
    expect(mock.calls.length).toBe(calls); // nothing went upstream

    const shared = uniqueId('shared');
    await created(t, '/v1/admin/schemas', { id: shared, schema: PERSON });
    await inSnapshot(t, 'schema', shared);
    mock.rawAnswer = answerWith('{"name":"Ada","age":36}');
    const res = await chat(acme.key, byId(shared));
    expect(res.headers.get('x-portico-schema-validation')).toBe('passed');

    const inline = { type: 'json_schema', json_schema: { name: 'inline', schema: PERSON } };
    const plain = await chat(acme.key, { response_format: inline });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('x-portico-schema-validation')).toBeNull();
    expect(mock.calls.at(-1)!.body.response_format).toEqual(inline);
  });
});
