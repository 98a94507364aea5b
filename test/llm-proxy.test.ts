import OpenAI from 'openai';
import { testDialects } from './support/databases';
import {
  created,
  createKey,
  createRoute,
  inSnapshot,
  setupTenant,
  uniqueId,
  type TenantSetup,
} from './support/fixtures';
import { GatedUpstream, textReader } from './support/gated-upstream';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockLlm } from './support/mock-llm';

const hi = [{ role: 'user' as const, content: 'hi' }];

describe.each(testDialects())('LLM proxy (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let mock: MockLlm;
  let upstream: string;
  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${data.url}/v1`, maxRetries: 0 });
  const post = (body: unknown, auth: string) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const usageRows = async (tenantId: string) => {
    await data.app.dataPlane.usage.flush();
    return t.gateway.db
      .selectFrom('usage_records')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .execute();
  };
  /** A tenant with its own openai credential and an LLM route to the mock for models `gpt*`. */
  const llmTenant = (route: Record<string, unknown> = {}) =>
    setupTenant(t, {
      credential: 'openai',
      route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: upstream }], ...route },
    });
  /** A model name of its own with a price: 10 input and 20 output tokens of the mock cost 0.05 USD. */
  const pricedModel = async () => {
    const model = uniqueId('gpt-priced');
    const price = await created(t, '/v1/admin/pricing', {
      provider: 'openai',
      model,
      input_per_million_usd: 1000,
      output_per_million_usd: 2000,
    });
    await inSnapshot(t, 'pricing', price.id); // a call before the price arrives would cost nothing
    return model;
  };

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

  test('the official openai client gets a completion; the stored credential goes upstream, never the Portico key', async () => {
    const acme = await llmTenant();
    const model = await pricedModel();
    const res = await client(acme.key).chat.completions.create({ model, messages: hi });
    expect(res.choices[0]!.message.content).toBe('Hello from mock');
    const call = mock.calls.at(-1)!;
    expect(call.headers.authorization).toBe(`Bearer ${acme.credentialSecret}`);
    expect(JSON.stringify(call)).not.toContain(acme.key);
    const [row] = await usageRows(acme.tenantId);
    expect(row).toMatchObject({
      tenant_id: acme.tenantId,
      api_key_id: acme.keyId,
      route_id: acme.routeId,
      provider: 'openai',
      model,
      input_tokens: 10,
      output_tokens: 20,
    });
    expect(row!.cost_usd).toBeCloseTo(0.05, 10); // 10 × 1000/1e6 + 20 × 2000/1e6
  });

  test('streams pass through chunk by chunk, and the final usage chunk is recorded', async () => {
    const acme = await llmTenant();
    const stream = await client(acme.key).chat.completions.create({ model: 'gpt-4o', stream: true, messages: hi });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello');
    expect(mock.calls.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    const rows = await usageRows(acme.tenantId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ input_tokens: 10, output_tokens: 20 });
  });

  test('a streamed answer reaches the client while the upstream is still sending it', async () => {
    const sse = (payload: object) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', ...payload })}\n\n`;
    const gated = new GatedUpstream({
      contentType: 'text/event-stream',
      first: sse({ choices: [{ index: 0, delta: { role: 'assistant', content: 'first-part' }, finish_reason: null }] }),
      rest:
        sse({ choices: [{ index: 0, delta: { content: ' second-part' }, finish_reason: 'stop' }] }) +
        sse({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }) +
        'data: [DONE]\n\n',
    });
    const gatedUrl = await gated.start();
    try {
      const acme = await setupTenant(t, {
        credential: 'openai',
        route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: gatedUrl }] },
      });
      const res = await post({ model: 'gpt-4o', stream: true, messages: hi }, `Bearer ${acme.key}`);
      expect(res.status).toBe(200);
      const body = textReader(res.body!);
      await body.readThrough('first-part');
      expect(gated.ended).toBe(false); // the upstream waits for the gate: the first chunk came through on its own
      gated.release.open();
      const text = await body.rest();
      expect(text).toContain('second-part');
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(gated.ended).toBe(true);
      expect(await usageRows(acme.tenantId)).toEqual([expect.objectContaining({ input_tokens: 1, output_tokens: 2 })]);
    } finally {
      await gated.stop();
    }
  });

  test('token usage reaches the budget usage endpoint; a HARD budget, once exceeded, refuses with 429 budget_exceeded before calling upstream', async () => {
    const acme = await llmTenant({ model_pattern: 'gpt-priced*' });
    const model = await pricedModel();
    for (let i = 0; i < 2; i++) await client(acme.key).chat.completions.create({ model, messages: hi }); // 0.1 spent
    await data.app.dataPlane.usage.flush();
    const budget = (
      await t.api('POST', '/v1/admin/budgets', { tenant_id: acme.tenantId, limit_usd: 0.12, enforcement: 'HARD' })
    ).body;
    expect((await t.api('GET', `/v1/admin/budgets/${budget.id}/usage`)).body.spent_usd).toBeCloseTo(0.1, 10);
    await until(() => !!t.gateway.snapshot.get('budget', budget.id));
    await new Promise((r) => setTimeout(r, 100));
    await client(acme.key).chat.completions.create({ model, messages: hi }); // 0.15 now
    const calls = mock.calls.length;
    const refused = await client(acme.key)
      .chat.completions.create({ model, messages: hi })
      .catch((e) => e);
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({ code: 'budget_exceeded', type: 'rate_limit_error' });
    expect(mock.calls.length).toBe(calls);
    let alerts: any[] = [];
    for (let i = 0; i < 100 && !alerts.length; i++) {
      alerts = (await t.api('GET', `/v1/admin/audit/events?type=BUDGET_THRESHOLD_CROSSED&tenant_id=${acme.tenantId}`))
        .body.data; // written off the request path
      if (!alerts.length) await new Promise((r) => setTimeout(r, 10));
    }
    expect(alerts.map((e: any) => e.changes.threshold_percent)).toEqual([100]); // 50 and 80 were passed before the budget existed
  });

  describe('refusals', () => {
    let acme: TenantSetup;
    const chatAs = (key: string, body: unknown = { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }) =>
      post(body, `Bearer ${key}`);
    beforeEach(async () => {
      acme = await llmTenant();
    });

    test('an unknown key is a 401 invalid_api_key', async () => {
      const wrong = await chatAs('ptc_key_nope');
      expect([wrong.status, ((await wrong.json()) as any).error.code]).toEqual([401, 'invalid_api_key']);
    });

    test('a bad body is a 400 naming the parameter', async () => {
      const noModel = await chatAs(acme.key, { messages: [{ role: 'user', content: 'x' }] });
      expect([noModel.status, ((await noModel.json()) as any).error]).toEqual([
        400,
        expect.objectContaining({ type: 'invalid_request_error', param: 'model' }),
      ]);
      const badMessages = await chatAs(acme.key, { model: 'gpt-4o', messages: [{ content: 'x' }] });
      expect(((await badMessages.json()) as any).error.param).toBe('messages.0.role');
    });

    test('a model no route serves is a 404 no_route', async () => {
      const noRoute = await chatAs(acme.key, { model: 'claude-3', messages: [{ role: 'user', content: 'x' }] });
      expect([noRoute.status, ((await noRoute.json()) as any).error.code]).toEqual([404, 'no_route']);
    });

    test('a revoked key is refused within 1 s, without a restart', async () => {
      const other = await createKey(t, acme.tenantId, { name: 'short' }); // live propagation, within 1 s
      expect((await chatAs(other.key)).status).toBe(200);
      await t.api('POST', `/v1/admin/tenants/${acme.tenantId}/keys/${other.id}/revoke`);
      const started = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - started < 1000) status = (await chatAs(other.key)).status;
      expect(status).toBe(401);
    });

    test('an expired key is a 401 saying so', async () => {
      const soon = await createKey(t, acme.tenantId, {
        name: 'brief',
        expires_at: new Date(Date.now() + 1500).toISOString(),
      });
      expect((await chatAs(soon.key)).status).toBe(200);
      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(soon.expires_at) - Date.now() + 50)));
      const expired = await chatAs(soon.key);
      expect([expired.status, ((await expired.json()) as any).error]).toEqual([
        401,
        expect.objectContaining({ code: 'invalid_api_key', message: 'This API key has expired' }),
      ]);
    });

    test('a suspended tenant is a 403 tenant_suspended', async () => {
      await t.api('PUT', `/v1/admin/tenants/${acme.tenantId}`, { name: 'Acme', status: 'SUSPENDED' });
      await until(() => t.gateway.snapshot.get('tenant', acme.tenantId)?.status === 'SUSPENDED');
      const suspended = await chatAs(acme.key);
      expect([suspended.status, ((await suspended.json()) as any).error.code]).toEqual([403, 'tenant_suspended']);
    });
  });

  test('fallback moves to the next provider when the first is down', async () => {
    const acme = await llmTenant({
      model_pattern: 'fb-*',
      strategy: 'fallback',
      providers: [
        { provider: 'openai', base_url: 'http://127.0.0.1:9/v1' },
        { provider: 'openai', base_url: upstream, model: 'gpt-4o' },
      ],
    });
    const res = await client(acme.key).chat.completions.create({ model: 'fb-model', messages: hi });
    expect(res.choices[0]!.message.content).toBe('Hello from mock');
    expect(mock.calls.at(-1)!.body.model).toBe('gpt-4o');
  });

  test('model-prefix does not move on: its one provider down is a 502', async () => {
    const acme = await llmTenant({
      model_pattern: 'solo-*',
      providers: [{ provider: 'openai', base_url: 'http://127.0.0.1:9/v1' }],
    });
    const down = await client(acme.key)
      .chat.completions.create({ model: 'solo-x', messages: hi })
      .catch((e) => e);
    expect([down.status, down.error.code]).toEqual([502, 'upstream_error']);
  });

  test('no usable credential is a 502 naming the provider', async () => {
    const acme = await llmTenant({
      model_pattern: 'claude*',
      providers: [{ provider: 'anthropic', base_url: upstream }],
    });
    const res = await client(acme.key)
      .chat.completions.create({ model: 'claude-3', messages: hi })
      .catch((e) => e);
    expect([res.status, res.error.code]).toEqual([502, 'no_credential']);
    expect(res.error.message).toContain('"anthropic"');
  });

  test('an upstream that hangs gets a 504 at the route timeout', async () => {
    const hanging = new MockLlm();
    hanging.mode = 'hang';
    const hangingUrl = await hanging.start();
    try {
      const acme = await llmTenant({
        model_pattern: 'slow-*',
        timeout_ms: 300,
        providers: [{ provider: 'openai', base_url: hangingUrl }],
      });
      const res = await client(acme.key)
        .chat.completions.create({ model: 'slow-1', messages: hi })
        .catch((e) => e);
      expect([res.status, res.error.code]).toEqual([504, 'upstream_timeout']);
    } finally {
      await hanging.stop();
    }
  });

  test('a streaming client that disconnects aborts the upstream; what was sent is still recorded', async () => {
    const slow = new MockLlm();
    const slowUrl = await slow.start();
    try {
      const acme = await llmTenant({ providers: [{ provider: 'openai', base_url: slowUrl }] });
      const controller = new AbortController();
      const res = await fetch(`${data.url}/v1/chat/completions`, {
        method: 'POST',
        signal: controller.signal,
        headers: { authorization: `Bearer ${acme.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'slow' }] }),
      });
      const reader = res.body!.getReader();
      await reader.read();
      await reader.read();
      controller.abort();
      await until(() => slow.streamAborted);
      expect(slow.streamAborted).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      const rows = await usageRows(acme.tenantId);
      expect(rows.length).toBe(1);
      expect(rows.at(-1)!.output_tokens).toBeGreaterThan(0);
    } finally {
      await slow.stop();
    }
  });
});

/** On a gateway of its own, so the global routes are exactly the ones this suite makes. */
describe.each(testDialects())('GET /v1/models (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  const provider = (model?: string) => ({
    provider: 'openai',
    base_url: 'http://127.0.0.1:9/v1',
    ...(model ? { model } : {}),
  });
  const models = async (key: string) => {
    const res = await fetch(`${data.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id).sort();
  };

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    data = await startDataPlane(t);
  });
  afterAll(async () => {
    await data?.close();
    await t?.close();
  });

  test("a key lists exactly its tenant's enabled LLM routes' patterns and models plus the global ones, never another tenant's", async () => {
    await createRoute(t, null, { model_pattern: 'shared-*', providers: [provider('shared-model')] });
    await createRoute(t, null, { model_pattern: 'global-off', enabled: false, providers: [provider()] });
    await createRoute(t, null, { path_prefix: '/global-http', backend_url: 'http://127.0.0.1:9' });
    const acme = await setupTenant(t, {
      route: { model_pattern: 'acme-*', providers: [provider('acme-base'), provider('acme-big')] },
    });
    await createRoute(t, acme.tenantId, { model_pattern: 'acme-off', enabled: false, providers: [provider()] });
    await createRoute(t, acme.tenantId, { path_prefix: '/acme-http', backend_url: 'http://127.0.0.1:9' });
    const beta = await setupTenant(t, {
      route: { model_pattern: 'beta-*', providers: [provider('beta-secret-model')] },
    });
    const bare = await setupTenant(t);

    expect(await models(acme.key)).toEqual(['acme-*', 'acme-base', 'acme-big', 'shared-*', 'shared-model']);
    expect(await models(beta.key)).toEqual(['beta-*', 'beta-secret-model', 'shared-*', 'shared-model']);
    expect(await models(bare.key)).toEqual(['shared-*', 'shared-model']);
  });
});
