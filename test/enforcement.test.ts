import { testDialects } from './support/databases';
import { OWNER_TOKEN, startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockLlm } from './support/mock-llm';

const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };

describe.each(testDialects())('data-plane enforcement (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let mock: MockLlm;
  let upstream: string;
  const post = (key: string, body: unknown = chat) =>
    fetch(`${data.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const inSnapshot = (kind: string, id: string) => until(() => !!t.gateway.snapshot.get(kind, id));
  const newKey = async (body: Record<string, unknown> = {}) => {
    const created = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'k', ...body })).body;
    await inSnapshot('api_key', created.id);
    return created;
  };
  // metrics name tenants and upstreams: they are on the admin port, for platform tokens (test/metrics.test.ts)
  const metrics = async () => (await t.admin.inject({ url: '/metrics', headers: { authorization: `Bearer ${OWNER_TOKEN}` } })).body;

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    mock = new MockLlm();
    upstream = await mock.start();
    data = await startDataPlane(t);
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    await t.api('POST', '/v1/admin/credentials', { provider: 'openai', api_key: 'sk-upstream-global' });
    await t.api('POST', '/v1/admin/routes', { id: 'gpt', model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: upstream }], rate_limit: { limit: 50, window_secs: 60 } });
    await inSnapshot('route', 'gpt');
  });
  afterAll(async () => {
    await data?.close();
    await mock?.stop();
    await t?.close();
  });

  test("a route's rate limit admits exactly its limit out of 200 concurrent requests, with x-ratelimit-* headers", async () => {
    const { key } = await newKey();
    const before = mock.calls.length;
    const answers = await Promise.all(Array.from({ length: 200 }, () => post(key)));
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    expect(ok).toHaveLength(50);
    expect(refused).toHaveLength(150);
    expect(mock.calls.length - before).toBe(50);
    expect(ok.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    for (const r of [...ok, ...refused]) expect(r.headers.get('x-ratelimit-limit')).toBe('50');
    const body = (await refused[0]!.json()) as any;
    expect(body.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    expect(body.error.message).toContain('route "gpt"');
    expect(refused[0]!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused[0]!.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(60);
    // the count is per key: another key of the same tenant has its own 50
    expect((await post((await newKey()).key)).status).toBe(200);
    expect(await metrics()).toMatch(/portico_throttled_total\{tenant="acme",reason="rate_limit"\} 150/);
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
    expect((await t.api('GET', '/v1/admin/rate-limit-tiers')).body.data.map((x: { id: string }) => x.id)).not.toContain('bad');
  });

  test("a key's tier limits its rate across routes, and its daily quota counts admitted requests only", async () => {
    expect((await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'x', rate_limit_tier: 'nope' })).body.error.details).toEqual([{ path: 'rate_limit_tier', message: 'no rate_limit_tier "nope" exists' }]);
    await t.api('POST', '/v1/admin/rate-limit-tiers', { id: 'bronze', limit: 2, window_secs: 1 });
    await t.api('POST', '/v1/admin/rate-limit-tiers', { id: 'trial', limit: 100, window_secs: 60, daily_quota: 3, monthly_quota: 100 });
    await inSnapshot('rate_limit_tier', 'trial');
    const bronze = await newKey({ rate_limit_tier: 'bronze' });
    const statuses = async (key: string, n: number) => Promise.all(Array.from({ length: n }, () => post(key).then((r) => r.status)));
    expect((await statuses(bronze.key, 5)).sort()).toEqual([200, 200, 429, 429, 429]);
    await new Promise((r) => setTimeout(r, 1100)); // a new one-second window
    expect(await statuses(bronze.key, 1)).toEqual([200]);

    const trial = await newKey({ rate_limit_tier: 'trial' });
    const first = await post(trial.key);
    expect(first.headers.get('x-ratelimit-limit')).toBe('3'); // the tightest rule is reported: 2 left of the daily 3
    expect(first.headers.get('x-ratelimit-remaining')).toBe('2');
    expect(await statuses(trial.key, 4)).toEqual([200, 200, 429, 429]);
    const refused = await post(trial.key);
    expect(((await refused.json()) as any).error).toMatchObject({ code: 'quota_exceeded', message: 'The daily request quota of tier "trial" (3) is used up' });
    const resetSecs = Number(refused.headers.get('retry-after'));
    expect(resetSecs).toBeGreaterThan(0);
    expect(resetSecs).toBeLessThanOrEqual(86_400);

    // a restarted data plane reads the spent quota back from the request logs
    await data.app.dataPlane.requestLogs.flush();
    const restarted = await startDataPlane(t);
    try {
      const again = await fetch(`${restarted.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${trial.key}`, 'content-type': 'application/json' }, body: JSON.stringify(chat) });
      expect(((await again.json()) as any).error.code).toBe('quota_exceeded');
    } finally {
      await restarted.close();
    }
  });

  test('a circuit opens after failures in a row, refuses without calling, and closes after a half-open success', async () => {
    const failing = new MockLlm();
    const failingUrl = await failing.start();
    failing.mode = 'fail';
    await t.api('POST', '/v1/admin/routes', { id: 'cb', model_pattern: 'cb-*', providers: [{ provider: 'openai', base_url: failingUrl }], circuit_breaker: { failure_threshold: 2, cooldown_ms: 300 } });
    await inSnapshot('route', 'cb');
    const { key } = await newKey();
    const body = { ...chat, model: 'cb-model' };
    expect((await post(key, body)).status).toBe(500); // the upstream's own 5xx is passed through
    expect((await post(key, body)).status).toBe(500);
    const calls = failing.calls.length;
    const open = await post(key, body);
    expect(open.status).toBe(503);
    expect(((await open.json()) as any).error.code).toBe('circuit_open');
    expect(Number(open.headers.get('retry-after'))).toBe(1);
    expect(failing.calls.length).toBe(calls);
    expect(await metrics()).toContain('portico_circuit_state{circuit="*/cb#0:openai"} 2');

    await new Promise((r) => setTimeout(r, 350));
    failing.mode = 'ok';
    expect((await post(key, body)).status).toBe(200); // the half-open trial
    expect(await metrics()).toContain('portico_circuit_state{circuit="*/cb#0:openai"} 0');
    expect((await post(key, body)).status).toBe(200);

    failing.mode = 'fail';
    await post(key, body);
    await post(key, body);
    await new Promise((r) => setTimeout(r, 350));
    expect((await post(key, body)).status).toBe(500); // a failed trial opens it again at once
    expect((await post(key, body)).status).toBe(503);
    expect(await metrics()).toMatch(new RegExp(`portico_upstream_errors_total\\{upstream="${failingUrl.replace(/[.]/g, '\\.')}",reason="status_500"\\} 5`));
    await failing.stop();
  });

  test('with fallback, an open circuit sends calls straight to the next provider', async () => {
    await t.api('POST', '/v1/admin/routes', { id: 'fb', model_pattern: 'fb-*', strategy: 'fallback', providers: [{ provider: 'openai', base_url: 'http://127.0.0.1:9/v1' }, { provider: 'openai', base_url: upstream }], circuit_breaker: { failure_threshold: 1, cooldown_ms: 60_000 } });
    await inSnapshot('route', 'fb');
    const { key } = await newKey();
    const body = { ...chat, model: 'fb-model' };
    for (let i = 0; i < 3; i++) expect((await post(key, body)).status).toBe(200);
    expect(await metrics()).toContain('portico_circuit_state{circuit="*/fb#0:openai"} 2');
    expect(await metrics()).toMatch(/portico_upstream_errors_total\{upstream="http:\/\/127\.0\.0\.1:9\/v1",reason="connect"\} 1\n/);
  });

  test('metrics count requests by kind, tenant and status, with a latency histogram', async () => {
    const text = await metrics();
    expect(text).toMatch(/# TYPE portico_requests_total counter/);
    expect(text).toMatch(/portico_requests_total\{kind="llm",tenant="acme",status="200"\} \d+/);
    expect(text).toMatch(/portico_requests_total\{kind="llm",tenant="acme",status="429"\} \d+/);
    expect(text).toMatch(/portico_request_duration_seconds_bucket\{kind="llm",le="\+Inf"\} \d+/);
    expect(text).toMatch(/portico_request_duration_seconds_count\{kind="llm"\} \d+/);
  });
});
