import { exportAll, seedAuditLog } from './support/audit-chain';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

describe.each(testDialects())('audit event listing (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await seedAuditLog(t);
  });
  afterAll(() => t?.close());

  const list = async (query: string) => {
    const res = await t.api('GET', `/v1/admin/audit/events?limit=500&${query}`);
    expect(res.status).toBe(200);
    return res.body.data.map((e: any) => e.seq) as number[];
  };
  const seqsWhere = (all: any[], keep: (e: any) => boolean) => all.filter(keep).map((e) => e.seq);

  test('tenant_id and type filter, alone and together, newest first', async () => {
    const all = await exportAll(t);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => all.length - i));
    expect(await list('tenant_id=beta')).toEqual(seqsWhere(all, (e) => e.tenant_id === 'beta'));
    expect(await list('tenant_id=beta')).toEqual([6, 5, 2]);
    expect(await list('type=TENANT_UPDATED')).toEqual([5]);
    expect(await list('type=API_KEY_CREATED&tenant_id=alpha')).toEqual(
      seqsWhere(all, (e) => e.type === 'API_KEY_CREATED' && e.tenant_id === 'alpha'),
    );
    expect(await list('tenant_id=nobody')).toEqual([]);
  });

  test('from/to are inclusive instants, any offset; a date-only to covers its whole day', async () => {
    const all = await exportAll(t);
    const mid = all[Math.floor(all.length / 2)].created_at as string;
    expect(await list(`from=${mid}`)).toEqual(seqsWhere(all, (e) => e.created_at >= mid));
    expect(await list(`to=${mid}`)).toEqual(seqsWhere(all, (e) => e.created_at <= mid));
    const plusTwo = new Date(Date.parse(mid) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    expect(await list(`to=${encodeURIComponent(plusTwo)}`)).toEqual(seqsWhere(all, (e) => e.created_at <= mid));
    expect(await list(`from=${mid}&to=${mid}`)).toEqual(seqsWhere(all, (e) => e.created_at === mid));

    const day = all[all.length - 1].created_at.slice(0, 10);
    expect(await list(`to=${day}`)).toEqual(seqsWhere(all, (e) => e.created_at.slice(0, 10) <= day));
    expect(await list(`to=${day}`)).toContain(1);
    expect(await list(`to=${day}T00:00:00Z`)).toEqual(seqsWhere(all, (e) => e.created_at <= `${day}T00:00:00.000Z`));
    expect(await list(`from=${day}`)).toEqual(seqsWhere(all, (e) => e.created_at >= `${day}T00:00:00.000Z`));
    expect(await list('from=2999-01-01')).toEqual([]);
    expect(await list('to=2000-01-01')).toEqual([]);
  });

  test('limit and cursor page newest first with no duplicates or gaps', async () => {
    const all = (await exportAll(t)).map((e) => e.seq);
    const walk = async (query: string) => {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page: any = (
          await t.api('GET', `/v1/admin/audit/events?limit=7&${query}${cursor ? `&cursor=${cursor}` : ''}`)
        ).body;
        expect(page.data.length).toBeLessThanOrEqual(7);
        seen.push(...page.data.map((e: any) => e.seq));
        cursor = page.next_cursor;
      } while (cursor);
      return seen;
    };
    expect(await walk('')).toEqual(all);
    expect(await walk('tenant_id=alpha&type=API_KEY_CREATED')).toEqual(
      await list('tenant_id=alpha&type=API_KEY_CREATED'),
    );
    expect((await t.api('GET', `/v1/admin/audit/events?limit=${all.length}`)).body.next_cursor).toBeNull();
  });

  test.each([
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=2.5', 'limit'],
    ['from=yesterday', 'from'],
    ['from=2024-13-45', 'from'],
    ['to=soon', 'to'],
    ['cursor=abc', 'cursor'],
    // not ISO-8601, though Date.parse takes them (as 2001-01-01 and year 20000, which as text sorts before "2…")
    ['from=1', 'from'],
    ['from=20000', 'from'],
    ['to=Tue%20Jan%2002%202024', 'to'],
  ])('%s is a 400 naming the parameter', async (query, path) => {
    const res = await t.api('GET', `/v1/admin/audit/events?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details[0].path).toBe(path);
  });
});
