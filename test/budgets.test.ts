import { periodBounds } from '../server/budgets/periods';
import { budgetSpends } from '../server/budgets/spend';
import { testDialects } from './support/databases';
import { setupTenant } from './support/fixtures';
import { startTestGateway, type TestGateway } from './support/gateway';

describe('budget periods (UTC)', () => {
  const at = new Date('2026-11-18T15:30:00Z'); // a Wednesday
  test.each([
    ['DAILY', '2026-11-18T00:00:00.000Z', '2026-11-19T00:00:00.000Z'],
    ['WEEKLY', '2026-11-16T00:00:00.000Z', '2026-11-23T00:00:00.000Z'],
    ['MONTHLY', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
  ] as const)('%s', (period, start, end) => {
    const b = periodBounds(period, at);
    expect([b.start.toISOString(), b.end.toISOString()]).toEqual([start, end]);
  });
  test('a Sunday belongs to the week that began the Monday before; December rolls into January', () => {
    expect(periodBounds('WEEKLY', new Date('2026-11-22T23:59:59Z')).start.toISOString()).toBe(
      '2026-11-16T00:00:00.000Z',
    );
    expect(periodBounds('MONTHLY', new Date('2026-12-31T23:00:00Z')).end.toISOString()).toBe(
      '2027-01-01T00:00:00.000Z',
    );
  });
});

describe.each(testDialects())('budgets (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect);
  });
  afterAll(() => t?.close());

  const spend = (tenant: string, cost: number, at: Date, apiKey: string | null = null) =>
    t.gateway.db
      .insertInto('usage_records')
      .values({
        id: `u_${Math.random().toString(36).slice(2)}`,
        tenant_id: tenant,
        api_key_id: apiKey,
        route_id: null,
        provider: 'openai',
        model: 'gpt-4o',
        input_tokens: 10,
        output_tokens: 5,
        cost_usd: cost,
        created_at: at,
      })
      .execute();

  test('CRUD with defaults, and a clear 400 for bad input', async () => {
    const { tenantId: acme } = await setupTenant(t);
    const { keyId: otherKey } = await setupTenant(t);
    const created = await t.api('POST', '/v1/admin/budgets', {
      tenant_id: acme,
      period: 'MONTHLY',
      limit_usd: 100,
      enforcement: 'HARD',
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^bud_/),
      tenant_id: acme,
      name: '',
      api_key_id: null,
      period: 'MONTHLY',
      limit_usd: 100,
      enforcement: 'HARD',
      alert_thresholds: [50, 80, 100],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const bad = await t.api('POST', '/v1/admin/budgets', {
      tenant_id: acme,
      period: 'YEARLY',
      limit_usd: -1,
      alert_thresholds: [80, 50],
    });
    expect(bad.body.error.details.map((d: any) => d.path).sort()).toEqual(['alert_thresholds', 'limit_usd', 'period']);
    expect((await t.api('POST', '/v1/admin/budgets', { limit_usd: 5 })).body.error.details[0].path).toBe('tenant_id');
    expect(
      (await t.api('POST', '/v1/admin/budgets', { tenant_id: 'ghost', limit_usd: 5 })).body.error.details[0],
    ).toEqual({ path: 'tenant_id', message: 'no tenant "ghost" exists' });
    expect(
      (await t.api('POST', '/v1/admin/budgets', { tenant_id: acme, api_key_id: otherKey, limit_usd: 5 })).body.error
        .details[0].path,
    ).toBe('api_key_id');
    const put = await t.api('PUT', `/v1/admin/budgets/${created.body.id}`, {
      name: 'monthly',
      limit_usd: 50,
      enforcement: 'SOFT',
    });
    expect(put.body).toMatchObject({ name: 'monthly', limit_usd: 50, enforcement: 'SOFT', period: 'MONTHLY' });
    expect((await t.api('GET', `/v1/admin/budgets?tenant_id=${acme}`)).body.data).toEqual([put.body]);
    expect((await t.api('DELETE', `/v1/admin/budgets/${created.body.id}`)).status).toBe(204);
  });

  test('usage sums the current UTC period only, per tenant or per key', async () => {
    const { tenantId: acme, keyId } = await setupTenant(t);
    const { tenantId: other } = await setupTenant(t);
    const now = new Date();
    const month = periodBounds('MONTHLY', now);
    const day = periodBounds('DAILY', now);
    await spend(acme, 30, new Date(day.start.getTime() + 1000));
    await spend(acme, 12.5, new Date(day.start.getTime() + 2000), keyId);
    await spend(acme, 1000, new Date(month.start.getTime() - 1000)); // last month
    await spend(other, 999, now);
    if (day.start.getTime() - 1000 >= month.start.getTime()) await spend(acme, 7, new Date(day.start.getTime() - 1000)); // earlier this month, not today

    const monthly = (await t.api('POST', '/v1/admin/budgets', { tenant_id: acme, period: 'MONTHLY', limit_usd: 40 }))
      .body;
    const usage = (await t.api('GET', `/v1/admin/budgets/${monthly.id}/usage`)).body;
    const expected = day.start.getTime() - 1000 >= month.start.getTime() ? 49.5 : 42.5;
    expect(usage).toEqual({
      budget_id: monthly.id,
      period_start: month.start.toISOString(),
      period_end: month.end.toISOString(),
      spent_usd: expected,
      limit_usd: 40,
      remaining_usd: 0,
      percent_used: Math.round((expected / 40) * 10000) / 100,
      exceeded: true,
    });
    const daily = (await t.api('POST', '/v1/admin/budgets', { tenant_id: acme, period: 'DAILY', limit_usd: 100 })).body;
    expect((await t.api('GET', `/v1/admin/budgets/${daily.id}/usage`)).body).toMatchObject({
      spent_usd: 42.5,
      remaining_usd: 57.5,
      percent_used: 42.5,
      exceeded: false,
    });
    const perKey = (
      await t.api('POST', '/v1/admin/budgets', { tenant_id: acme, api_key_id: keyId, period: 'DAILY', limit_usd: 25 })
    ).body;
    expect((await t.api('GET', `/v1/admin/budgets/${perKey.id}/usage`)).body).toMatchObject({
      spent_usd: 12.5,
      percent_used: 50,
      exceeded: false,
    });
    expect((await t.api('GET', '/v1/admin/budgets/nope/usage')).status).toBe(404);

    // every budget's spend in one query, each over its own period and scope
    const weekly = (await t.api('POST', '/v1/admin/budgets', { tenant_id: other, period: 'WEEKLY', limit_usd: 5 }))
      .body;
    const spends = await budgetSpends(t.gateway.db, [monthly, daily, perKey, weekly]);
    expect(Object.fromEntries([...spends].map(([b, usd]) => [b.id, usd]))).toEqual({
      [monthly.id]: expected,
      [daily.id]: 42.5,
      [perKey.id]: 12.5,
      [weekly.id]: 999,
    });
    expect((await budgetSpends(t.gateway.db, [])).size).toBe(0);
  });
});
