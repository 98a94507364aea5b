import { AdminClient } from '../provider/client';
import { SYSTEM_CALLER } from '../server/control/caller';
import { tenant as tenantDef, token as tokenDef } from '../server/resources';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

const statuses = (results: { statusCode: number }[]) => results.map((r) => r.statusCode);

describe.each(testDialects())('admin API rate limit per caller (%s)', (dialect) => {
  let t: TestGateway;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    // One request a second, in bursts of two: ten at once must meet the limit.
    t = await startTestGateway(dialect, { PORTICO_ADMIN_RATE_LIMIT: '1' }, { webhooks: false });
    const system = { caller: SYSTEM_CALLER };
    await t.admin.resources.create(system, tenantDef, { id: 'acme', name: 'Acme' });
    for (const name of ['first', 'second'])
      tokens[name] = (await t.admin.resources.create(system, tokenDef, { name, role: 'viewer', tenant_id: 'acme' }))
        .token as string;
  });
  afterAll(() => t?.close());

  const burst = (token: string | undefined, remoteAddress = '127.0.0.1') =>
    Promise.all(
      Array.from({ length: 10 }, () =>
        t.admin.inject({
          method: 'GET',
          url: '/v1/admin/tenants',
          remoteAddress,
          headers: token ? { authorization: `Bearer ${token}` } : {},
        }),
      ),
    );

  test('a caller over its rate gets 429 RATE_LIMITED with Retry-After in the admin error shape; another caller is unaffected', async () => {
    const results = await burst(tokens.first);
    expect(statuses(results)).toContain(200);
    const refused = results.filter((r) => r.statusCode === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.json()).toEqual({
        error: { code: 'RATE_LIMITED', message: expect.stringContaining('retry in'), details: [] },
      });
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    const other = await t.admin.inject({
      method: 'GET',
      url: '/v1/admin/tenants',
      headers: { authorization: `Bearer ${tokens.second}` },
    });
    expect(other.statusCode).toBe(200);
    const owner = await t.admin.inject({
      method: 'GET',
      url: '/v1/admin/tenants',
      headers: { authorization: `Bearer ${OWNER_TOKEN}` },
    });
    expect(owner.statusCode).toBe(200);
  });

  test('requests without a valid token are counted by client address, apart from the callers behind it', async () => {
    const guesses = await burst('ptc_pat_not-a-real-token', '203.0.113.7');
    expect(statuses(guesses)).toContain(401);
    expect(statuses(guesses)).toContain(429);
    const elsewhere = await t.admin.inject({ method: 'GET', url: '/v1/admin/tenants', remoteAddress: '203.0.113.8' });
    expect(elsewhere.statusCode).toBe(401);
    const valid = await t.admin.inject({
      method: 'GET',
      url: '/v1/admin/tenants',
      remoteAddress: '203.0.113.7',
      headers: { authorization: `Bearer ${OWNER_TOKEN}` },
    });
    expect(valid.statusCode).toBe(200);
  });

  test("the Terraform provider's client waits out a 429 (Retry-After) and tries again", async () => {
    const url = await t.admin.listen({ host: '127.0.0.1', port: 0 });
    const client = new AdminClient(url, tokens.second!);
    const results = await Promise.all(Array.from({ length: 5 }, () => client.request('GET', '/v1/admin/tenants/acme')));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });
});

describe.each(testDialects())('refusals in the audit chain (%s)', (dialect) => {
  let t: TestGateway;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    t = await startTestGateway(dialect, { PORTICO_ADMIN_RATE_LIMIT: '0' }, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    await t.api('POST', '/v1/admin/tenants', { id: 'other', name: 'Other' });
    for (const name of ['looper', 'bystander'])
      tokens[name] = (await t.api('POST', '/v1/admin/tokens', { name, role: 'viewer', tenant_id: 'acme' })).body.token;
  });
  afterAll(() => t?.close());

  const violations = async (actor: string) =>
    (
      await t.gateway.db
        .selectFrom('audit_events')
        .select(['actor', 'changes'])
        .where('type', '=', 'TENANT_SCOPE_VIOLATION')
        .orderBy('seq')
        .execute()
    )
      .filter((e) => (e.actor as { name: string }).name === actor)
      .map((e) => e.changes as Record<string, unknown>);

  test('a viewer looping on 403s is refused every time but written at a bounded rate; every refusal is still counted', async () => {
    const started = Date.now();
    for (let i = 0; i < 60; i++) {
      const res = await t.api('GET', '/v1/admin/tenants/other', undefined, tokens.looper);
      expect([res.status, res.body.error.code]).toEqual([403, 'TENANT_SCOPE_VIOLATION']);
    }
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const written = await violations('looper');
    // a burst of 20, then one a second
    expect(written.length).toBeGreaterThanOrEqual(20);
    expect(written.length).toBeLessThanOrEqual(Math.min(59, 20 + seconds));

    const bystander = await t.api('GET', '/v1/admin/tenants/other', undefined, tokens.bystander);
    expect(bystander.status).toBe(403);
    expect(await violations('bystander')).toHaveLength(1);

    await new Promise((r) => setTimeout(r, 1100));
    await t.api('GET', '/v1/admin/tenants/other', undefined, tokens.looper);
    const after = await violations('looper');
    expect(after).toHaveLength(written.length + 1);
    expect(after[after.length - 1]).toEqual({
      field: 'id',
      requested_tenant_id: 'other',
      unrecorded_before: expect.any(Number),
    });
    // every refusal is accounted for: written, or counted by the next written event
    expect(after.reduce((sum, e) => sum + 1 + Number(e.unrecorded_before ?? 0), 0)).toBe(61);
  });
});
