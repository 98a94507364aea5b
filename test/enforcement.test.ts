import { testDialects } from './support/databases';
import { createKey, inSnapshot, setupTenant, uniqueId } from './support/fixtures';
import { OWNER_TOKEN, startDataPlane, startTestGateway, type TestGateway } from './support/gateway';
import { MockLlm } from './support/mock-llm';

const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };

describe.each(testDialects())('data-plane enforcement (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let mock: MockLlm;
  let upstream: string;
  const post = (key: string, body: unknown = chat) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  // metrics name tenants and upstreams: they are on the admin port, for platform tokens (test/metrics.test.ts)
  const metrics = async () =>
    (await t.admin.inject({ url: '/metrics', headers: { authorization: `Bearer ${OWNER_TOKEN}` } })).body;
  /** A tenant with its own openai credential, a key, and an LLM route (`gpt*` to the mock unless `route` says otherwise). */
  const llmTenant = (route: Record<string, unknown> = {}, key: Record<string, unknown> = {}) =>
    setupTenant(t, {
      credential: 'openai',
      key,
      route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: upstream }], ...route },
    });
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

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

  test("a route's rate limit admits exactly its limit out of 200 concurrent requests, with x-ratelimit-* headers", async () => {
    const { key, tenantId, routeId } = await llmTenant({ rate_limit: { limit: 50, window_secs: 60 } });
    const before = mock.calls.length;
    const answers = await Promise.all(Array.from({ length: 200 }, () => post(key)));
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    expect(ok).toHaveLength(50);
    expect(refused).toHaveLength(150);
    expect(mock.calls.length - before).toBe(50);
    expect(ok.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    for (const r of [...ok, ...refused]) expect(r.headers.get('x-ratelimit-limit')).toBe('50');
    const body = (await refused[0]!.json()) as any;
    expect(body.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    expect(body.error.message).toContain(`route "${routeId}"`);
    expect(refused[0]!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused[0]!.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(60);
    // the count is per key: another key of the same tenant has its own 50
    expect((await post((await createKey(t, tenantId)).key)).status).toBe(200);
    expect(await metrics()).toMatch(
      new RegExp(`portico_throttled_total\\{tenant="${escaped(tenantId)}",reason="rate_limit"\\} 150`),
    );
  });

  test('a bad tier is a 400 naming the field, and nothing is stored', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ id: 'bad', limit: 0, window_secs: 60 }, 'limit'],
      [{ id: 'bad', limit: 10 }, 'window_secs'],
      [{ id: 'bad', limit: 10, window_secs: 60, daily_quota: -1 }, 'daily_quota'],
      [{ id: 'Bad Id', limit: 10, window_secs: 60 }, 'id'],
      [{ id: 'bad', limit: 10, window_secs: 60, burst: 5 }, 'burst'],
    ];
    for (const [body, path] of cases) {
      const res = await t.api('POST', '/v1/admin/rate-limit-tiers', body);
      expect([res.status, res.body.error.details[0].path]).toEqual([400, path]);
    }
    expect((await t.api('GET', '/v1/admin/rate-limit-tiers')).body.data.map((x: { id: string }) => x.id)).not.toContain(
      'bad',
    );
  });

  describe("a key's rate-limit tier", () => {
    const statuses = async (key: string, n: number) =>
      Promise.all(Array.from({ length: n }, () => post(key).then((r) => r.status)));
    /** A tier under a fresh id, once the data plane has it. */
    const tier = async (body: Record<string, unknown>) => {
      const created = (await t.api('POST', '/v1/admin/rate-limit-tiers', { id: uniqueId('tier'), ...body })).body;
      await inSnapshot(t, 'rate_limit_tier', created.id);
      return created.id as string;
    };

    test('naming a tier that does not exist is a 400', async () => {
      const { tenantId } = await setupTenant(t);
      expect(
        (await t.api('POST', `/v1/admin/tenants/${tenantId}/keys`, { name: 'x', rate_limit_tier: 'nope' })).body.error
          .details,
      ).toEqual([{ path: 'rate_limit_tier', message: 'no rate_limit_tier "nope" exists' }]);
    });

    test('limits the rate of its keys, window by window', async () => {
      const bronze = await llmTenant({}, { rate_limit_tier: await tier({ limit: 2, window_secs: 1 }) });
      expect((await statuses(bronze.key, 5)).sort()).toEqual([200, 200, 429, 429, 429]);
      await new Promise((r) => setTimeout(r, 1100)); // a new one-second window
      expect(await statuses(bronze.key, 1)).toEqual([200]);
    });

    test('its daily quota counts admitted requests only', async () => {
      const trialTier = await tier({ limit: 100, window_secs: 60, daily_quota: 3, monthly_quota: 100 });
      const trial = await llmTenant({}, { rate_limit_tier: trialTier });
      const first = await post(trial.key);
      expect(first.headers.get('x-ratelimit-limit')).toBe('3'); // the tightest rule is reported: 2 left of the daily 3
      expect(first.headers.get('x-ratelimit-remaining')).toBe('2');
      expect(await statuses(trial.key, 4)).toEqual([200, 200, 429, 429]);
      const refused = await post(trial.key);
      expect(((await refused.json()) as any).error).toMatchObject({
        code: 'quota_exceeded',
        message: `The daily request quota of tier "${trialTier}" (3) is used up`,
      });
      const resetSecs = Number(refused.headers.get('retry-after'));
      expect(resetSecs).toBeGreaterThan(0);
      expect(resetSecs).toBeLessThanOrEqual(86_400);
    });

    test('a restarted data plane reads the spent quota back from the request logs', async () => {
      const trial = await llmTenant(
        {},
        { rate_limit_tier: await tier({ limit: 100, window_secs: 60, daily_quota: 3 }) },
      );
      expect(await statuses(trial.key, 3)).toEqual([200, 200, 200]);
      await data.app.dataPlane.requestLogs.flush();
      const restarted = await startDataPlane(t);
      try {
        const again = await fetch(`${restarted.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${trial.key}`, 'content-type': 'application/json' },
          body: JSON.stringify(chat),
        });
        expect(((await again.json()) as any).error.code).toBe('quota_exceeded');
      } finally {
        await restarted.close();
      }
    });
  });

  test('a circuit opens after failures in a row, refuses without calling, and closes after a half-open success', async () => {
    const failing = new MockLlm();
    const failingUrl = await failing.start();
    failing.mode = 'fail';
    const { key, tenantId, routeId } = await llmTenant({
      model_pattern: 'cb-*',
      providers: [{ provider: 'openai', base_url: failingUrl }],
      // a cooldown long enough that a loaded machine's pause between two calls does not end it
      circuit_breaker: { failure_threshold: 2, cooldown_ms: 2000 },
    });
    const circuit = `${tenantId}/${routeId}#0:openai`;
    const body = { ...chat, model: 'cb-model' };
    expect((await post(key, body)).status).toBe(500); // the upstream's own 5xx is passed through
    expect((await post(key, body)).status).toBe(500);
    const calls = failing.calls.length;
    const open = await post(key, body);
    expect(open.status).toBe(503);
    expect(((await open.json()) as any).error.code).toBe('circuit_open');
    expect(Number(open.headers.get('retry-after'))).toBe(2);
    expect(failing.calls.length).toBe(calls);
    expect(await metrics()).toContain(`portico_circuit_state{circuit="${circuit}"} 2`);

    await new Promise((r) => setTimeout(r, 2050));
    failing.mode = 'ok';
    expect((await post(key, body)).status).toBe(200); // the half-open trial
    expect(await metrics()).toContain(`portico_circuit_state{circuit="${circuit}"} 0`);
    expect((await post(key, body)).status).toBe(200);

    failing.mode = 'fail';
    await post(key, body);
    await post(key, body);
    await new Promise((r) => setTimeout(r, 2050));
    expect((await post(key, body)).status).toBe(500); // a failed trial opens it again at once
    expect((await post(key, body)).status).toBe(503);
    expect(await metrics()).toMatch(
      new RegExp(
        `portico_upstream_errors_total\\{upstream="${failingUrl.replace(/[.]/g, '\\.')}",reason="status_500"\\} 5`,
      ),
    );
    await failing.stop();
  });

  test('with fallback, an open circuit sends calls straight to the next provider', async () => {
    const { key, tenantId, routeId } = await llmTenant({
      model_pattern: 'fb-*',
      strategy: 'fallback',
      providers: [
        { provider: 'openai', base_url: 'http://127.0.0.1:9/v1' },
        { provider: 'openai', base_url: upstream },
      ],
      circuit_breaker: { failure_threshold: 1, cooldown_ms: 60_000 },
    });
    const body = { ...chat, model: 'fb-model' };
    for (let i = 0; i < 3; i++) expect((await post(key, body)).status).toBe(200);
    expect(await metrics()).toContain(`portico_circuit_state{circuit="${tenantId}/${routeId}#0:openai"} 2`);
    expect(await metrics()).toMatch(
      /portico_upstream_errors_total\{upstream="http:\/\/127\.0\.0\.1:9\/v1",reason="connect"\} 1\n/,
    );
  });

  test('metrics count requests by kind, tenant and status, with a latency histogram', async () => {
    const { key, tenantId } = await llmTenant({ rate_limit: { limit: 1, window_secs: 60 } });
    expect([(await post(key)).status, (await post(key)).status]).toEqual([200, 429]);
    const text = await metrics();
    expect(text).toMatch(/# TYPE portico_requests_total counter/);
    expect(text).toMatch(
      new RegExp(`portico_requests_total\\{kind="llm",tenant="${escaped(tenantId)}",status="200"\\} 1\n`),
    );
    expect(text).toMatch(
      new RegExp(`portico_requests_total\\{kind="llm",tenant="${escaped(tenantId)}",status="429"\\} 1\n`),
    );
    expect(text).toMatch(/portico_request_duration_seconds_bucket\{kind="llm",le="\+Inf"\} \d+/);
    expect(text).toMatch(/portico_request_duration_seconds_count\{kind="llm"\} \d+/);
  });
});
