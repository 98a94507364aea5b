import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import type { FastifyInstance } from 'fastify';
import { buildDataApp } from '../server/data/data-app';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';
import { MockLlm } from './support/mock-llm';

describe.each(testDialects())('LLM proxy (%s)', (dialect) => {
  let t: TestGateway;
  let data: FastifyInstance;
  let mock: MockLlm;
  let upstream: string;
  let base: string;
  let key: string;
  let keyId: string;
  const client = (apiKey = key) => new OpenAI({ apiKey, baseURL: `${base}/v1`, maxRetries: 0 });
  const usageRows = async () => {
    await data.dataPlane.usage.flush();
    return t.gateway.db.selectFrom('usage_records').selectAll().orderBy('created_at').execute();
  };
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    mock = new MockLlm();
    upstream = await mock.start();
    data = await buildDataApp(t.gateway);
    await data.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(data.server.address() as AddressInfo).port}`;
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    const k = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'prod' })).body;
    key = k.key;
    keyId = k.id;
    await t.api('POST', '/v1/admin/credentials', { id: 'openai-global', provider: 'openai', api_key: 'sk-upstream-global' });
    await t.api('POST', '/v1/admin/pricing', { provider: 'openai', model: 'gpt-4o', input_per_million_usd: 1000, output_per_million_usd: 2000 });
    await t.api('POST', '/v1/admin/routes', { id: 'gpt', model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: upstream }] });
    await until(() => !!t.gateway.snapshot.get('route', 'gpt'));
  });
  afterAll(async () => {
    await data?.close();
    await mock?.stop();
    await t?.close();
  });

  test('the official openai client gets a completion; the stored credential goes upstream, never the Portico key', async () => {
    const res = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]!.message.content).toBe('Hello from mock');
    const call = mock.calls.at(-1)!;
    expect(call.headers.authorization).toBe('Bearer sk-upstream-global');
    expect(JSON.stringify(call)).not.toContain(key);
    const [row] = await usageRows();
    expect(row).toMatchObject({ tenant_id: 'acme', api_key_id: keyId, route_id: 'gpt', provider: 'openai', model: 'gpt-4o', input_tokens: 10, output_tokens: 20 });
    expect(row!.cost_usd).toBeCloseTo(0.05, 10); // 10 × 1000/1e6 + 20 × 2000/1e6
  });

  test('streams pass through chunk by chunk, and the final usage chunk is recorded', async () => {
    const stream = await client().chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello');
    expect(mock.calls.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    const rows = await usageRows();
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ input_tokens: 10, output_tokens: 20 });
  });

  test('token usage reaches the budget usage endpoint; a HARD budget, once exceeded, refuses with 429 budget_exceeded before calling upstream', async () => {
    const budget = (await t.api('POST', '/v1/admin/budgets', { tenant_id: 'acme', limit_usd: 0.12, enforcement: 'HARD' })).body;
    expect((await t.api('GET', `/v1/admin/budgets/${budget.id}/usage`)).body.spent_usd).toBeCloseTo(0.1, 10);
    await until(() => !!t.gateway.snapshot.get('budget', budget.id));
    await new Promise((r) => setTimeout(r, 100));
    await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }); // 0.15 now
    const calls = mock.calls.length;
    const refused = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({ code: 'budget_exceeded', type: 'rate_limit_error' });
    expect(mock.calls.length).toBe(calls);
    let alerts: any[] = [];
    for (let i = 0; i < 100 && !alerts.length; i++) {
      alerts = (await t.api('GET', '/v1/admin/audit/events?type=BUDGET_THRESHOLD_CROSSED')).body.data; // written off the request path
      if (!alerts.length) await new Promise((r) => setTimeout(r, 10));
    }
    expect(alerts.map((e: any) => e.changes.threshold_percent)).toEqual([100]); // 50 and 80 were passed before the budget existed
    await t.api('DELETE', `/v1/admin/budgets/${budget.id}`);
    await until(() => !t.gateway.snapshot.get('budget', budget.id));
  });

  test('bad keys, revoked keys (within 1 s, no restart), expired keys, suspended tenants, unknown models and bad bodies', async () => {
    const post = (body: unknown, auth = `Bearer ${key}`) => fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const wrong = await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, 'Bearer ptc_key_nope');
    expect([wrong.status, ((await wrong.json()) as any).error.code]).toEqual([401, 'invalid_api_key']);
    const noModel = await post({ messages: [{ role: 'user', content: 'x' }] });
    expect([noModel.status, ((await noModel.json()) as any).error]).toEqual([400, expect.objectContaining({ type: 'invalid_request_error', param: 'model' })]);
    const badMessages = await post({ model: 'gpt-4o', messages: [{ content: 'x' }] });
    expect(((await badMessages.json()) as any).error.param).toBe('messages.0.role');
    const noRoute = await post({ model: 'claude-3', messages: [{ role: 'user', content: 'x' }] });
    expect([noRoute.status, ((await noRoute.json()) as any).error.code]).toEqual([404, 'no_route']);

    const other = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'short' })).body;
    await until(() => !!t.gateway.snapshot.get('api_key', other.id)); // live propagation, within 1 s
    expect((await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, `Bearer ${other.key}`)).status).toBe(200);
    await t.api('POST', `/v1/admin/tenants/acme/keys/${other.id}/revoke`);
    const started = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - started < 1000) status = (await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, `Bearer ${other.key}`)).status;
    expect(status).toBe(401);

    const soon = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'brief', expires_at: new Date(Date.now() + 1500).toISOString() })).body;
    await until(() => !!t.gateway.snapshot.get('api_key', soon.id));
    expect((await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, `Bearer ${soon.key}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(soon.expires_at) - Date.now() + 50)));
    const expired = await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, `Bearer ${soon.key}`);
    expect([expired.status, ((await expired.json()) as any).error]).toEqual([401, expect.objectContaining({ code: 'invalid_api_key', message: 'This API key has expired' })]);

    await t.api('PUT', '/v1/admin/tenants/acme', { name: 'Acme', status: 'SUSPENDED' });
    await until(() => t.gateway.snapshot.get('tenant', 'acme')?.status === 'SUSPENDED');
    const suspended = await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    expect([suspended.status, ((await suspended.json()) as any).error.code]).toEqual([403, 'tenant_suspended']);
    await t.api('PUT', '/v1/admin/tenants/acme', { name: 'Acme' });
    await until(() => t.gateway.snapshot.get('tenant', 'acme')?.status === 'ACTIVE');
  });

  test('fallback moves to the next provider when the first is down; model-prefix does not', async () => {
    await t.api('POST', '/v1/admin/routes', { id: 'fb', model_pattern: 'fb-*', strategy: 'fallback', providers: [{ provider: 'openai', base_url: 'http://127.0.0.1:9/v1' }, { provider: 'openai', base_url: upstream, model: 'gpt-4o' }] });
    await t.api('POST', '/v1/admin/routes', { id: 'solo', model_pattern: 'solo-*', providers: [{ provider: 'openai', base_url: 'http://127.0.0.1:9/v1' }] });
    await until(() => !!t.gateway.snapshot.get('route', 'solo'));
    const res = await client().chat.completions.create({ model: 'fb-model', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]!.message.content).toBe('Hello from mock');
    expect(mock.calls.at(-1)!.body.model).toBe('gpt-4o');
    const down = await client().chat.completions.create({ model: 'solo-x', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect([down.status, down.error.code]).toEqual([502, 'upstream_error']);
  });

  test('no usable credential is a 502 naming the provider', async () => {
    await t.api('POST', '/v1/admin/routes', { id: 'anth', model_pattern: 'claude*', providers: [{ provider: 'anthropic', base_url: upstream }] });
    await until(() => !!t.gateway.snapshot.get('route', 'anth'));
    const res = await client().chat.completions.create({ model: 'claude-3', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect([res.status, res.error.code]).toEqual([502, 'no_credential']);
    expect(res.error.message).toContain('"anthropic"');
  });

  test('an upstream that hangs gets a 504 at the route timeout', async () => {
    await t.api('POST', '/v1/admin/routes', { id: 'slow', model_pattern: 'slow-*', timeout_ms: 300, providers: [{ provider: 'openai', base_url: upstream }] });
    await until(() => !!t.gateway.snapshot.get('route', 'slow'));
    mock.mode = 'hang';
    const res = await client().chat.completions.create({ model: 'slow-1', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    mock.mode = 'ok';
    expect([res.status, res.error.code]).toEqual([504, 'upstream_timeout']);
  });

  test('a streaming client that disconnects aborts the upstream; what was sent is still recorded', async () => {
    const before = (await usageRows()).length;
    const controller = new AbortController();
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', signal: controller.signal, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'slow' }] }) });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    await until(() => mock.streamAborted);
    expect(mock.streamAborted).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    const rows = await usageRows();
    expect(rows.length).toBe(before + 1);
    expect(rows.at(-1)!.output_tokens).toBeGreaterThan(0);
  });

  test('GET /v1/models lists what the key\'s routes reach', async () => {
    const models = await client().models.list();
    expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining(['gpt*', 'fb-*', 'gpt-4o']));
  });
});
