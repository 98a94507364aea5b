import { isoDateParam } from '../server/lib/iso-date';
import { testDialects } from './support/databases';
import { setupTenant } from './support/fixtures';
import { startTestGateway, type TestGateway } from './support/gateway';

test("date filters: an offset-less date-time is read as UTC (not the server's zone); dates and offsets stay as given", () => {
  const when = isoDateParam();
  expect(
    ['2026-04-15T09:30', '2026-04-15T09:30:15.5', '2026-04-15', '2026-04-15T09:30Z', '2026-04-15T09:30+02:00'].map(
      (s) => when.parse(s),
    ),
  ).toEqual([
    '2026-04-15T09:30Z',
    '2026-04-15T09:30:15.5Z',
    '2026-04-15',
    '2026-04-15T09:30Z',
    '2026-04-15T09:30+02:00',
  ]);
  expect(new Date(when.parse('2026-04-15T09:30')).toISOString()).toBe('2026-04-15T09:30:00.000Z');
});

describe.each(testDialects())('token usage (%s)', (dialect) => {
  let t: TestGateway;
  let acme: string;
  let beta: string;
  // usage records written straight to the table, read (never changed) by every test below
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    acme = (await setupTenant(t)).tenantId;
    beta = (await setupTenant(t)).tenantId;
    const rows: [string, string | null, string, number, number, number, string][] = [
      [acme, 'key_a', 'gpt-4o', 10, 20, 0.5, '2026-04-01T10:00:00Z'],
      [acme, 'key_a', 'gpt-4o', 1, 2, 0.25, '2026-04-15T10:00:00Z'],
      [acme, 'key_b', 'gpt-4o-mini', 100, 5, 0.125, '2026-04-30T23:59:00Z'],
      [acme, null, 'gpt-4o', 7, 7, 1, '2026-05-01T00:00:00Z'],
      [beta, 'key_c', 'gpt-4o', 3, 3, 2, '2026-04-10T00:00:00Z'],
    ];
    await t.gateway.db
      .insertInto('usage_records')
      .values(
        rows.map(([tenant_id, api_key_id, model, input_tokens, output_tokens, cost_usd, at], i) => ({
          id: `u${i}`,
          tenant_id,
          api_key_id,
          route_id: 'gpt',
          provider: 'openai',
          model,
          input_tokens,
          output_tokens,
          cost_usd,
          created_at: at,
        })),
      )
      .execute();
  });
  afterAll(() => t?.close());

  test("records filter by the seed's parameters (tenantId, apiKey, model, from, to), newest first", async () => {
    const april = (await t.api('GET', `/v1/admin/token-usage?tenantId=${acme}&from=2026-04-01&to=2026-04-30`)).body;
    expect(april.data.map((r: any) => r.id)).toEqual(['u2', 'u1', 'u0']);
    expect(april.data[0]).toEqual({
      id: 'u2',
      tenant_id: acme,
      api_key_id: 'key_b',
      route_id: 'gpt',
      provider: 'openai',
      model: 'gpt-4o-mini',
      input_tokens: 100,
      output_tokens: 5,
      cost_usd: 0.125,
      created_at: '2026-04-30T23:59:00.000Z',
    });
    expect((await t.api('GET', '/v1/admin/token-usage?apiKey=key_a')).body.data.map((r: any) => r.id)).toEqual([
      'u1',
      'u0',
    ]);
    expect((await t.api('GET', '/v1/admin/token-usage?model=gpt-4o-mini')).body.data.map((r: any) => r.id)).toEqual([
      'u2',
    ]);
    const page = (await t.api('GET', '/v1/admin/token-usage?limit=2')).body;
    const rest = (await t.api('GET', `/v1/admin/token-usage?limit=2&cursor=${page.next_cursor}`)).body;
    const last = (await t.api('GET', `/v1/admin/token-usage?limit=2&cursor=${rest.next_cursor}`)).body;
    expect([...page.data, ...rest.data, ...last.data].map((r: any) => r.id)).toEqual(['u3', 'u2', 'u1', 'u4', 'u0']);
    expect(last.next_cursor).toBeNull();
    expect((await t.api('GET', '/v1/admin/token-usage?from=April')).body.error.details[0].path).toBe('from');
    // a date-time without an offset is UTC, as a bare date is
    const around = (
      await t.api('GET', `/v1/admin/token-usage?tenantId=${acme}&from=2026-04-15T09:30&to=2026-04-15T10:30:00`)
    ).body;
    expect(around.data.map((r: any) => r.id)).toEqual(['u1']);
    expect((await t.api('GET', `/v1/admin/token-usage?tenant_id=${acme}`)).body.error.details[0].path).toBe(
      'tenant_id',
    );
  });

  test('the summary rolls records up by provider and model', async () => {
    const summary = (await t.api('GET', `/v1/admin/token-usage/summary?tenantId=${acme}&from=2026-04-01&to=2026-04-30`))
      .body;
    expect(summary).toEqual({
      object: 'token_usage_summary',
      data: [
        { provider: 'openai', model: 'gpt-4o', calls: 2, input_tokens: 11, output_tokens: 22, cost_usd: 0.75 },
        { provider: 'openai', model: 'gpt-4o-mini', calls: 1, input_tokens: 100, output_tokens: 5, cost_usd: 0.125 },
      ],
      totals: { calls: 3, input_tokens: 111, output_tokens: 27, cost_usd: 0.875 },
    });
  });

  test('tenant roles see their own tenant only; naming another is a scope violation', async () => {
    const viewer = (await t.api('POST', '/v1/admin/tokens', { name: 'v', role: 'viewer', tenant_id: beta })).body.token;
    expect((await t.api('GET', '/v1/admin/token-usage', undefined, viewer)).body.data.map((r: any) => r.id)).toEqual([
      'u4',
    ]);
    const foreign = await t.api('GET', `/v1/admin/token-usage?tenantId=${acme}`, undefined, viewer);
    expect([foreign.status, foreign.body.error.code]).toEqual([403, 'TENANT_SCOPE_VIOLATION']);
  });
});
