import { sql } from 'kysely';
import { quotaCounters } from '../server/data/limiter';
import { migrateToLatest } from '../server/store/migrate';
import { openTestDatabase, testDialects } from './support/databases';
import { createRoute, created, setupTenant, uniqueId } from './support/fixtures';
import { startDataPlane, type TestGateway, startProxyBed, stopProxyBed, type TestDataPlane } from './support/gateway';
import type { MockHttp } from './support/mock-http';

/**
 * Quotas across restarts come from quota_usage, which the database keeps with the request logs (a trigger on each
 * write): a start reads those rows, not the logs, so a restart is exact even with every log of the key gone.
 */
describe.each(testDialects())('quota usage kept with the request logs (%s)', (dialect) => {
  let t: TestGateway;
  let data: TestDataPlane;
  let backend: MockHttp;
  let backendUrl: string;

  beforeAll(async () => ({ t, backend, backendUrl, data } = await startProxyBed(dialect, {}, { webhooks: false })));
  afterAll(() => stopProxyBed({ t, backend, data }));

  const restart = async () => {
    await data.app.dataPlane.requestLogs.flush();
    await data.close();
    data = await startDataPlane(t);
  };
  const stored = async (keyId: string) =>
    Object.fromEntries(
      (
        await t.gateway.db
          .selectFrom('quota_usage')
          .select(['period', 'count'])
          .where('api_key_id', '=', keyId)
          .execute()
      ).map((r) => [r.period, Number(r.count)]),
    );
  /** What this data plane's limiter holds for the key: its day and month counts. */
  const counted = async (tenantId: string, keyId: string) => {
    const { day, month } = quotaCounters(tenantId, keyId);
    const [d, m] = await data.app.dataPlane.limiter.peek([day, month]);
    return { day: d ?? 0, month: m ?? 0 };
  };

  test('admitted requests count (a backend 5xx too, a refusal not); a restart with the logs deleted is exact', async () => {
    const tier = await created(t, '/v1/admin/rate-limit-tiers', {
      id: uniqueId('tier'),
      limit: 1000,
      window_secs: 60,
      daily_quota: 6,
      monthly_quota: 500,
    });
    const { tenantId, keyId, key } = await setupTenant(t, { key: { rate_limit_tier: tier.id } });
    const prefix = `/${uniqueId('quota')}`;
    await createRoute(t, tenantId, { path_prefix: prefix, backend_url: backendUrl, strip_prefix: true });
    const call = (path: string) =>
      fetch(`${data.url}${prefix}${path}`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);

    // three flushes: the backend's 503 was admitted, so it counts
    expect([await call('/a'), await call('/b'), await call('/down')]).toEqual([200, 200, 503]);
    await data.app.dataPlane.requestLogs.flush();
    expect(await call('/c')).toBe(200);
    await data.app.dataPlane.requestLogs.flush();
    expect(await call('/d')).toBe(200);
    await data.app.dataPlane.requestLogs.flush();
    expect(await stored(keyId)).toEqual({ day: 5, month: 5 });

    // the logs gone: a start that counted them would begin at zero
    await t.gateway.db.deleteFrom('request_logs').where('api_key_id', '=', keyId).execute();
    await restart();
    expect(await counted(tenantId, keyId)).toEqual({ day: 5, month: 5 });
    expect(await call('/e')).toBe(200); // the sixth and last of the day
    // refused by the gateway: logged with its error code, never counted
    expect([await call('/f'), await call('/g')]).toEqual([429, 429]);
    await restart();
    expect(await counted(tenantId, keyId)).toEqual({ day: 6, month: 6 });
    expect(await stored(keyId)).toEqual({ day: 6, month: 6 });
    expect(await call('/h')).toBe(429);
  });

  test('start-up prunes the rows of months before this one and reads only the current windows', async () => {
    const { tenantId, keyId } = await setupTenant(t);
    const old = new Date(Date.UTC(2001, 0, 1));
    await t.gateway.db
      .insertInto('quota_usage')
      .values([
        { starts_at: old, period: 'month', tenant_id: tenantId, api_key_id: keyId, count: 99 },
        { starts_at: old, period: 'day', tenant_id: tenantId, api_key_id: keyId, count: 9 },
      ])
      .execute();
    await restart();
    expect(await counted(tenantId, keyId)).toEqual({ day: 0, month: 0 });
    expect(await stored(keyId)).toEqual({});
  });
});

/**
 * An upgrade: migration 014 counts what the month's request logs already hold, as start-up used to (admitted requests
 * only, after the key's reset), so the first start on it loses nothing.
 */
describe.each(testDialects())('quota usage from the logs of before the upgrade (%s)', (dialect) => {
  test("the migration's count of this month's logs matches the rule start-up counted by", async () => {
    const { database, close } = await openTestDatabase(dialect);
    const db = database.db;
    try {
      // back to a database of before 014, with logs in it
      await sql`drop table quota_usage`.execute(db);
      await sql`drop function portico_count_quota_usage() cascade`.execute(db);
      await sql`drop function portico_recount_quota_usage() cascade`.execute(db);
      await db
        .deleteFrom('kysely_migration' as never)
        .where('name' as never, '=', '014-quota-usage' as never)
        .execute();
      const now = Date.now();
      const monthStart = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1));
      const lastMonth = new Date(monthStart.getTime() - 3_600_000);
      let n = 0;
      const log = (key: string | null, status: number, error: string | null, at: Date, latency = 5) => ({
        id: `log_${++n}`,
        tenant_id: 'acme',
        api_key_id: key,
        kind: 'http' as const,
        method: 'GET',
        path: '/x',
        status,
        latency_ms: latency,
        request_id: `r${n}`,
        error_code: error,
        created_at: at,
      });
      const at = new Date(now - 2000);
      await db
        .insertInto('quota_resets')
        .values({ tenant_id: 'acme', api_key_id: 'key_b', reset_at: new Date(now - 10_000) })
        .execute();
      await db
        .insertInto('request_logs')
        .values([
          log('key_a', 200, null, at),
          log('key_a', 200, null, at),
          log('key_a', 503, null, at), // the backend's answer: admitted
          log('key_a', 502, 'upstream_error', at), // failed after admission
          log('key_a', 429, 'quota_exceeded', at), // refused by the gateway
          log('key_a', 200, null, lastMonth), // another month
          log('key_b', 200, null, at, 20_000), // started before the key's reset
          log('key_b', 200, null, at),
          log(null, 401, 'invalid_api_key', at), // no key
        ])
        .execute();
      await migrateToLatest(db);
      const rows = await db
        .selectFrom('quota_usage')
        .select(['api_key_id', 'period', 'count'])
        .where('starts_at', '>=', monthStart)
        .orderBy('api_key_id')
        .orderBy('period')
        .execute();
      expect(rows.map((r) => [r.api_key_id, r.period, Number(r.count)])).toEqual([
        ['key_a', 'day', 4],
        ['key_a', 'month', 4],
        ['key_b', 'day', 1],
        ['key_b', 'month', 1],
      ]);
    } finally {
      await close();
    }
  });
});
