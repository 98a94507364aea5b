import { quotaCounters } from '../server/data/limiter';
import { testDialects } from './support/databases';
import { createRoute, created, setupTenant, uniqueId } from './support/fixtures';
import { startDataPlane, startTestGateway, type TestGateway } from './support/gateway';
import { MockHttp } from './support/mock-http';

/**
 * Quotas across restarts come from quota_usage, which the database keeps with the request logs (a trigger on each
 * write): a start reads those rows, not the logs, so a restart is exact even with every log of the key gone.
 */
describe.each(testDialects())('quota usage kept with the request logs (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let backend: MockHttp;
  let backendUrl: string;

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    backend = new MockHttp();
    backendUrl = await backend.start();
    data = await startDataPlane(t);
  });
  afterAll(async () => {
    await data?.close();
    await backend?.stop();
    await t?.close();
  });

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
