import { testDialects } from './support/databases';
import { created, setupTenant, uniqueId, type TenantSetup } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp } from './support/mock-http';
import { MockLlm } from './support/mock-llm';

/**
 * Policies on live traffic (issue 15): a policy goes DRAFT → SHADOW (traffic passes; shadow-stats shows what it would
 * have refused) → ACTIVE (traffic refused) through the API; rate-limit policies and route limits together (the
 * strictest applies); guardrails redact or block prompts; CORS; one tenant's policies never touch another's traffic.
 */
describe.each(testDialects())('policies: data plane (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let backend: MockHttp;
  let backendUrl: string;
  let llm: MockLlm;
  let llmUrl: string;

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    backend = new MockHttp();
    backendUrl = await backend.start();
    llm = new MockLlm();
    llmUrl = await llm.start();
    data = await startDataPlane(t);
  });
  afterAll(async () => {
    await data?.close();
    await backend?.stop();
    await llm?.stop();
    await t?.close();
  });

  const httpTenant = async (route: Record<string, unknown> = {}) => {
    const prefix = `/${uniqueId('p')}`;
    const setup = await setupTenant(t, { route: { path_prefix: prefix, backend_url: backendUrl, ...route } });
    return { ...setup, prefix };
  };
  const get = (s: TenantSetup & { prefix: string }, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${data.url}${s.prefix}/x`, { method, headers: { authorization: `Bearer ${s.key}`, ...headers } });
  const chat = (key: string, content: string) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
    });

  /** A policy of the tenant, moved to `status` through the API, once the data plane has that status. */
  const policy = async (tenantId: string | null, body: Record<string, unknown>, status?: string) => {
    const p = await created(t, '/v1/admin/policies', {
      name: 'p',
      ...(tenantId ? { tenant_id: tenantId } : {}),
      ...body,
    });
    if (status) await setStatus(p, status);
    return p;
  };
  const owner = (p: any) => (p.tenant_id ? `?tenant_id=${p.tenant_id}` : '');
  const setStatus = async (p: any, status: string, via: 'status' | 'promote' = 'status') => {
    const res = await t.api(
      'POST',
      `/v1/admin/policies/${p.id}/${via}${owner(p)}`,
      via === 'status' ? { status } : undefined,
    );
    expect([res.status, res.body.status]).toEqual([200, status]);
    await until(() => t.gateway.snapshot.get('policy', p.id, p.tenant_id)?.status === status);
  };
  const shadowStats = async (p: any) => (await t.api('GET', `/v1/admin/policies/${p.id}/shadow-stats${owner(p)}`)).body;

  test('DRAFT does nothing, SHADOW records what it would refuse, ACTIVE refuses; promotion clears the shadow data', async () => {
    const s = await httpTenant();
    // the test client is on loopback: a filter denying 127.0.0.0/8 refuses it
    const p = await policy(s.tenantId, {
      type: 'ip_filter',
      target: 'route',
      target_id: s.routeId,
      body: 'deny:\n  - 127.0.0.0/8\n  - ::1/128\n',
    });
    expect((await get(s)).status).toBe(200);
    expect(await shadowStats(p)).toMatchObject({ status: 'DRAFT', evaluated: 0, samples: [] });

    await setStatus(p, 'SHADOW');
    for (let i = 0; i < 3; i++) expect((await get(s)).status).toBe(200);
    const stats = await shadowStats(p);
    expect(stats).toMatchObject({ status: 'SHADOW', evaluated: 3, verdicts: { deny: 3 } });
    expect(stats.samples).toHaveLength(3);
    expect(stats.samples[0]).toMatchObject({
      method: 'GET',
      path: `${s.prefix}/x`,
      tenant_id: s.tenantId,
      api_key_id: s.keyId,
      route_id: s.routeId,
      verdict: 'deny',
    });
    expect(stats.samples[0].reason).toMatch(/is in a denied range/);

    await setStatus(p, 'ACTIVE', 'promote');
    const seen = backend.seen.length;
    const refused = await get(s);
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as any;
    expect(body.error.code).toBe('policy_denied');
    expect(body.error.message).toContain(`"${p.id}"`);
    expect(backend.seen.length).toBe(seen);
    expect(await shadowStats(p)).toMatchObject({ status: 'ACTIVE', evaluated: 0, samples: [] });

    await setStatus(p, 'DISABLED');
    expect((await get(s)).status).toBe(200);
  });

  test("a tenant's policy never touches another tenant's traffic; a global one covers every tenant", async () => {
    const a = await httpTenant();
    const b = await httpTenant();
    const p = await policy(a.tenantId, { type: 'ip_filter', body: 'allow: [192.0.2.0/24]' }, 'ACTIVE');
    expect((await get(a)).status).toBe(403);
    expect((await get(b)).status).toBe(200);
    await setStatus(p, 'DISABLED');
    const g = await policy(
      null,
      { type: 'cors', target: 'global', body: 'allow_origins: ["https://ok.example"]' },
      'ACTIVE',
    );
    try {
      for (const s of [a, b]) {
        expect((await get(s, { origin: 'https://evil.example' })).status).toBe(403);
        const ok = await get(s, { origin: 'https://ok.example' });
        expect([ok.status, ok.headers.get('access-control-allow-origin')]).toEqual([200, 'https://ok.example']);
        expect((await get(s)).status).toBe(200); // no Origin: not a cross-origin call
      }
      const preflight = await get(
        a,
        { origin: 'https://ok.example', 'access-control-request-method': 'POST' },
        'OPTIONS',
      );
      expect([preflight.status, preflight.headers.get('access-control-max-age')]).toEqual([204, '600']);
      // a browser's preflight carries no key: it is answered before the key check, on a route that needs one
      const keyless = (origin: string) =>
        fetch(`${data.url}${b.prefix}/x`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'PUT' },
        });
      const answered = await keyless('https://ok.example');
      expect([answered.status, answered.headers.get('access-control-allow-origin')]).toEqual([
        204,
        'https://ok.example',
      ]);
      expect((await keyless('https://evil.example')).status).toBe(403);
      expect((await fetch(`${data.url}${b.prefix}/x`)).status).toBe(401); // anything else still needs the key
    } finally {
      await setStatus(g, 'DISABLED');
    }
  });

  test('rate-limit policies and route limits both count: the strictest applies; a SHADOW limit only reports', async () => {
    const s = await httpTenant({ rate_limit: { limit: 5, window_secs: 60 } });
    const shadow = await policy(s.tenantId, { type: 'rate_limit', body: 'limit: 1\nwindow_secs: 60\n' }, 'SHADOW');
    await policy(
      s.tenantId,
      { type: 'rate_limit', target: 'api_key', target_id: s.keyId, body: 'limit: 3\nwindow_secs: 60\n' },
      'ACTIVE',
    );
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(s)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    const refused = (await (await get(s)).json()) as any;
    expect(refused.error.code).toBe('rate_limited');
    expect(refused.error.message).toContain('policy "');
    // the shadow limit of 1 would have refused every request after the first it saw
    const stats = await shadowStats(shadow);
    expect(stats.verdicts).toEqual({ allow: 1, deny: 6 });

    // a tenant whose only policy is a quota: the limiter enforces it all the same
    const q = await httpTenant();
    await policy(q.tenantId, { type: 'quota', body: 'limit: 2\nperiod: day\n' }, 'ACTIVE');
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await get(q)).status);
    expect(answers).toEqual([200, 200, 429]);
    expect(((await (await get(q)).json()) as any).error.code).toBe('quota_exceeded');
  });

  test('a rate-limit policy edited to a shorter window counts in the new window, not to the end of the old one', async () => {
    const s = await httpTenant();
    const p = await policy(s.tenantId, { type: 'rate_limit', body: 'limit: 1\nwindow_secs: 3600\n' }, 'ACTIVE');
    expect([(await get(s)).status, (await get(s)).status]).toEqual([200, 429]);
    const edited = await t.api('PUT', `/v1/admin/policies/${p.id}${owner(p)}`, {
      name: 'p',
      type: 'rate_limit',
      body: 'limit: 1\nwindow_secs: 1\n',
    });
    expect(edited.status).toBe(200);
    await until(() => t.gateway.snapshot.get('policy', p.id, p.tenant_id)?.version === edited.body.version);
    await new Promise((r) => setTimeout(r, 1100)); // past the new window, well inside the old one
    expect((await get(s)).status).toBe(200);
    expect((await get(s)).status).toBe(429);
  });

  test('guardrails redact a prompt before it goes upstream, or block it', async () => {
    const s = await setupTenant(t, {
      credential: 'openai',
      route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: llmUrl }] },
    });
    await policy(
      s.tenantId,
      {
        type: 'guardrail',
        priority: 5,
        body: [
          'rules:',
          '  - pattern: "sk-[a-z0-9]{6,}"',
          '    action: redact',
          '  - pattern: "DROP TABLE"',
          '    ignore_case: true',
          '    action: block',
        ].join('\n'),
      },
      'ACTIVE',
    );
    const ok = await chat(s.key, 'my key is sk-abcdef123 please');
    expect(ok.status).toBe(200);
    expect(llm.calls.at(-1)!.body.messages[0].content).toBe('my key is [REDACTED] please');
    const calls = llm.calls.length;
    const blocked = await chat(s.key, 'now drop table users');
    expect(blocked.status).toBe(403);
    expect(((await blocked.json()) as any).error.code).toBe('policy_denied');
    expect(llm.calls.length).toBe(calls);

    // answers: a response guardrail redacts the upstream's text, or refuses to pass it on
    const answers = await policy(
      s.tenantId,
      { type: 'guardrail', body: 'rules:\n  - pattern: "Hello"\n    on: response\n    action: redact\n' },
      'ACTIVE',
    );
    const redacted = (await (await chat(s.key, 'hi')).json()) as any;
    expect(redacted.choices[0].message.content).toBe('[REDACTED] from mock');
    await setStatus(answers, 'DISABLED');
    await policy(
      s.tenantId,
      { type: 'guardrail', body: 'rules:\n  - pattern: "mock"\n    on: both\n    action: block\n' },
      'ACTIVE',
    );
    const refused = await chat(s.key, 'hi');
    expect([refused.status, ((await refused.json()) as any).error.code]).toEqual([403, 'policy_denied']);
  });

  test('guardrail patterns run in linear time: what backtracks for ever elsewhere answers on a 100 KB prompt', async () => {
    const s = await setupTenant(t, {
      credential: 'openai',
      route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: llmUrl }] },
    });
    // on V8's own engine the first is exponential and the second quadratic in the prompt's length
    const rules = ['(a|a)*b', '[a-z]+@'].map((p) => `  - pattern: "${p}"\n    action: block\n`).join('');
    await policy(s.tenantId, { type: 'guardrail', body: `rules:\n${rules}` }, 'ACTIVE');
    expect((await chat(s.key, 'a'.repeat(100_000))).status).toBe(200);
    expect((await chat(s.key, 'aaab')).status).toBe(403);
    expect((await chat(s.key, 'write to me@example.com')).status).toBe(403);
  });
});
