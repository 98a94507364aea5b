import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/**
 * Conflict detection on every way a policy becomes or stays ACTIVE with new settings (issue 15): a move to ACTIVE
 * through /status, a PUT of an ACTIVE policy, a rollback of an ACTIVE policy and a config import that changes an
 * ACTIVE policy are each refused with a 409 naming both policies, and nothing changes.
 */

const daily = (limit: number) => `limit: ${limit}\nperiod: day\n`;

describe.each(testDialects())('policies: conflicts on every activation (%s)', (dialect) => {
  let t: TestGateway;
  const make = (id: string, body: string) =>
    t.api('POST', '/v1/admin/policies', { id, tenant_id: 'acme', name: id, type: 'quota', body });
  const status = (id: string, to: string) => t.api('POST', `/v1/admin/policies/${id}/status`, { status: to });
  const get = async (id: string) => (await t.api('GET', `/v1/admin/policies/${id}`)).body;
  const expectClash = (res: { status: number; body: any }, a: string, b: string) => {
    expect([res.status, res.body.error?.code]).toEqual([409, 'CONFLICT']);
    expect(res.body.error.message).toContain(`"${a}"`);
    expect(res.body.error.message).toContain(`"${b}"`);
  };

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'acme' });
    await make('base', daily(100));
    expect((await status('base', 'ACTIVE')).status).toBe(200);
  });
  afterAll(() => t?.close());

  test('POST …/status to ACTIVE (not only promote) is refused when it contradicts an ACTIVE policy', async () => {
    await make('direct', daily(500));
    expectClash(await status('direct', 'ACTIVE'), 'direct', 'base');
    expect((await get('direct')).status).toBe('DRAFT');
    await status('direct', 'DISABLED');
    expectClash(await status('direct', 'ACTIVE'), 'direct', 'base'); // from DISABLED too
    expect((await get('direct')).status).toBe('DISABLED');
  });

  test('a PUT of an ACTIVE policy into a contradiction is refused; of a DRAFT one it is not', async () => {
    await make('monthly', 'limit: 900\nperiod: month\n');
    expect((await status('monthly', 'ACTIVE')).status).toBe(200);
    const put = (body: string) => t.api('PUT', '/v1/admin/policies/monthly', { name: 'monthly', type: 'quota', body });
    expectClash(await put(daily(300)), 'monthly', 'base');
    expect(await get('monthly')).toMatchObject({ body: 'limit: 900\nperiod: month\n', version: 1, status: 'ACTIVE' });
    // a compatible change goes through, a new version
    expect((await put('limit: 800\nperiod: month\n')).body).toMatchObject({ version: 2, status: 'ACTIVE' });
    // the same edit to a policy that is not ACTIVE is just a draft: checked when it is activated
    await make('draft', 'limit: 1\nperiod: month\n');
    const draft = await t.api('PUT', '/v1/admin/policies/draft', { name: 'draft', type: 'quota', body: daily(1) });
    expect([draft.status, draft.body.status]).toEqual([200, 'DRAFT']);
  });

  test('a rollback of an ACTIVE policy to settings that contradict is refused, nothing changed', async () => {
    await make('rolling', daily(7));
    await t.api('PUT', '/v1/admin/policies/rolling', {
      name: 'rolling',
      type: 'quota',
      body: 'limit: 7\nperiod: month\n',
    });
    await status('monthly', 'DISABLED'); // out of the way of the monthly quota
    expect((await status('rolling', 'ACTIVE')).status).toBe(200);
    const back = await t.api('POST', '/v1/admin/policies/rolling/rollback', { version: 1 });
    expectClash(back, 'rolling', 'base');
    expect(await get('rolling')).toMatchObject({ version: 2, body: 'limit: 7\nperiod: month\n', status: 'ACTIVE' });
    const versions = await t.api('GET', '/v1/admin/policies/rolling/versions');
    expect(versions.body.data.map((v: any) => v.version)).toEqual([2, 1]);
  });

  test('a config import changing an ACTIVE policy into a contradiction is refused as a whole', async () => {
    const exported = (await t.api('GET', '/v1/admin/config/export')).body;
    const policies = exported.policies.map((p: any) =>
      p.id === 'rolling' ? { ...p, body: daily(9) } : p.id === 'base' ? { ...p, name: 'renamed' } : p,
    );
    const before = (await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0].id;
    const res = await t.api('POST', '/v1/admin/config/import?mode=merge', { ...exported, policies });
    expectClash(res, 'rolling', 'base');
    expect(await get('rolling')).toMatchObject({ body: 'limit: 7\nperiod: month\n', status: 'ACTIVE' });
    expect((await get('base')).name).toBe('base'); // one transaction: the other change is not kept either
    expect((await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0].id).toBe(before);
    // the dry run reports the same refusal
    const preview = await t.api('POST', '/v1/admin/config/import?mode=merge&dry_run=true', { ...exported, policies });
    expect(preview.status).toBe(409);
  });
});
