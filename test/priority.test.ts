import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../server/config';
import { testDialects } from './support/databases';
import { created, createKey, createRoute, setupTenant, uniqueId } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockLlm } from './support/mock-llm';

/**
 * Priority admission (seed 001): tiers admitted up to their share of PORTICO_PRIORITY_MAX_CONCURRENT, the rest 429
 * `priority_throttled`; every request gives its place back however it ends; `GET /v1/admin/priority/stats` in the
 * seed's shape and the Prometheus counters.
 */
describe('priority settings', () => {
  test('tiers, their thresholds and the default tier come from the environment; bad values name the variable', () => {
    const p = loadConfig({
      PORTICO_PRIORITY_MAX_CONCURRENT: '10',
      PORTICO_PRIORITY_TIERS: 'low:20, gold:100',
      PORTICO_PRIORITY_DEFAULT_TIER: 'low',
    }).priority;
    expect(p.maxConcurrent).toBe(10);
    expect(p.tiers).toEqual([
      { name: 'gold', thresholdPct: 100 },
      { name: 'low', thresholdPct: 20 },
    ]);
    const bad: [Record<string, string>, string][] = [
      [{ PORTICO_PRIORITY_MAX_CONCURRENT: '-1' }, 'PORTICO_PRIORITY_MAX_CONCURRENT'],
      [{ PORTICO_PRIORITY_MAX_CONCURRENT: 'lots' }, 'PORTICO_PRIORITY_MAX_CONCURRENT'],
      [{ PORTICO_PRIORITY_TIERS: 'gold:101' }, 'PORTICO_PRIORITY_TIERS'],
      [{ PORTICO_PRIORITY_TIERS: 'gold:0' }, 'PORTICO_PRIORITY_TIERS'],
      [{ PORTICO_PRIORITY_TIERS: 'gold' }, 'PORTICO_PRIORITY_TIERS'],
      [{ PORTICO_PRIORITY_TIERS: 'gold:50,gold:60' }, 'PORTICO_PRIORITY_TIERS'],
      [
        { PORTICO_PRIORITY_TIERS: 'gold:100', PORTICO_PRIORITY_DEFAULT_TIER: 'standard' },
        'PORTICO_PRIORITY_DEFAULT_TIER',
      ],
      [{ PORTICO_PRIORITY_TIERS: 'gold:100,low:10' }, 'PORTICO_PRIORITY_DEFAULT_TIER'],
    ];
    for (const [env, variable] of bad) expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}: `));
  });
});

describe.each(testDialects())('priority admission (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let mock: MockLlm;
  let llmUpstream: string;
  let backend: string;
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    held.push(res); // answered when the test releases it
  });
  const release = () => held.splice(0).forEach((res) => res.end('ok'));

  beforeAll(async () => {
    // 4 in flight at most: premium (100 %) up to 4, standard (80 %) up to 3, bulk (50 %) up to 2
    t = await startTestGateway(dialect, { PORTICO_PRIORITY_MAX_CONCURRENT: '4' }, { webhooks: false });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    backend = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    mock = new MockLlm();
    llmUpstream = await mock.start();
    data = await startDataPlane(t);
  });
  afterAll(async () => {
    release();
    await data?.close();
    await mock?.stop();
    server.closeAllConnections();
    server.close();
    await t?.close();
  });

  const stats = async (token?: string) => (await t.api('GET', '/v1/admin/priority/stats', undefined, token)).body;
  const inFlight = async () => (await stats()).data.currentConcurrent as number;
  /** A tenant (of `tier`, when given) with an HTTP route to the holding backend; its key optionally on `keyTier`. */
  const tenantWithRoute = async (tier?: string) => {
    const tenant = await setupTenant(t, { tenant: tier ? { metadata: { priority_tier: tier } } : {} });
    const prefix = `/${uniqueId('held')}`;
    await createRoute(t, tenant.tenantId, { path_prefix: prefix, backend_url: backend });
    return { ...tenant, prefix };
  };
  const send = (key: string, prefix: string, signal?: AbortSignal) =>
    fetch(`${data.url}${prefix}/x`, { headers: { 'x-api-key': key }, signal });

  test('each tier is admitted up to its share; beyond it a 429 priority_throttled; stats and metrics say so', async () => {
    const standard = await tenantWithRoute();
    const premium = await tenantWithRoute('premium');
    const bulkKey = (await createKey(t, standard.tenantId, { metadata: { priority_tier: 'bulk' } })).key;
    // a key cannot lift itself above its tenant's tier: this one stays standard
    const upgraded = (await createKey(t, standard.tenantId, { metadata: { priority_tier: 'premium' } })).key;

    const pending = [send(bulkKey, standard.prefix), send(bulkKey, standard.prefix)];
    await until(async () => (await inFlight()) === 2);
    const bulkRefused = await send(bulkKey, standard.prefix);
    expect(bulkRefused.status).toBe(429);
    expect(((await bulkRefused.json()) as any).error).toMatchObject({
      code: 'priority_throttled',
      type: 'rate_limit_error',
    });
    expect(bulkRefused.headers.get('retry-after')).toBe('1');

    pending.push(send(standard.key, standard.prefix));
    await until(async () => (await inFlight()) === 3);
    expect((await send(upgraded, standard.prefix)).status).toBe(429);
    pending.push(send(premium.key, premium.prefix));
    await until(async () => (await inFlight()) === 4);
    expect((await send(premium.key, premium.prefix)).status).toBe(429);

    expect(await stats()).toEqual({
      object: 'priority_stats',
      data: {
        currentConcurrent: 4,
        maxConcurrent: 4,
        perTierConcurrent: { premium: 1, standard: 1, bulk: 2 },
        perTierThresholdPct: { premium: 100, standard: 80, bulk: 50 },
      },
    });
    const text = (await t.api('GET', '/metrics')).text;
    const line = (name: string, tenant: string, tier: string) =>
      new RegExp(`^${name}\\{tenant="${tenant}",tier="${tier}"\\} (\\d+)$`, 'm').exec(text)?.[1];
    expect(line('gateway_priority_requests_total', standard.tenantId, 'bulk')).toBe('2');
    expect(line('gateway_priority_requests_total', standard.tenantId, 'standard')).toBe('1');
    expect(line('gateway_priority_requests_total', premium.tenantId, 'premium')).toBe('1');
    expect(line('gateway_priority_throttled_total', standard.tenantId, 'bulk')).toBe('1');
    expect(line('gateway_priority_throttled_total', standard.tenantId, 'standard')).toBe('1');
    expect(line('gateway_priority_throttled_total', premium.tenantId, 'premium')).toBe('1');

    await until(() => held.length === 4); // admitted and arrived, so released below
    release();
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    await until(async () => (await inFlight()) === 0);
    expect((await stats()).data.perTierConcurrent).toEqual({ premium: 0, standard: 0, bulk: 0 });
  });

  test('a place is given back when the client leaves, the upstream fails, or a stream ends', async () => {
    const tenant = await tenantWithRoute();
    const abort = new AbortController();
    const leaving = send(tenant.key, tenant.prefix, abort.signal).catch(() => 'aborted');
    await until(async () => (await inFlight()) === 1);
    abort.abort();
    expect(await leaving).toBe('aborted');
    await until(async () => (await inFlight()) === 0);
    release(); // if its upstream call arrived at all (afterAll releases any that come later)

    const llm = await setupTenant(t, {
      credential: 'openai',
      route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: llmUpstream }] },
    });
    const chat = (body: Record<string, unknown>) =>
      fetch(`${data.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${llm.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-x', messages: [{ role: 'user', content: 'hi' }], ...body }),
      });
    const streamed = await chat({ stream: true });
    expect(await streamed.text()).toContain('[DONE]');
    mock.mode = 'fail';
    try {
      expect((await chat({})).status).toBe(500);
    } finally {
      mock.mode = 'ok';
    }
    await until(async () => (await inFlight()) === 0);
  });

  test("the stats are the platform's: tenant roles get 403, a platform role reads them, no token is 401", async () => {
    const tenant = await setupTenant(t);
    const token = async (role: string, tenantId?: string) =>
      (await created(t, '/v1/admin/tokens', { name: role, role, ...(tenantId ? { tenant_id: tenantId } : {}) })).token;
    for (const role of ['admin', 'developer', 'viewer'])
      expect(
        (await t.api('GET', '/v1/admin/priority/stats', undefined, await token(role, tenant.tenantId))).status,
      ).toBe(403);
    expect((await stats(await token('billing-admin'))).object).toBe('priority_stats');
    expect((await t.api('GET', '/v1/admin/priority/stats', undefined, null)).status).toBe(401);
    const paths = Object.keys((await t.api('GET', '/v1/admin/openapi.json')).body.paths);
    expect(paths).toEqual(
      expect.arrayContaining(['/v1/admin/priority/stats', '/v1/admin/schemas', '/v1/admin/schemas/{id}']),
    );
    const withQuery = await t.api('GET', '/v1/admin/priority/stats?x=1');
    expect(withQuery.status).toBeLessThan(500);
  });
});
