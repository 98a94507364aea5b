import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresDatabase, testDialects, type TestDialect } from './support/databases';
import { until } from './support/gateway';
import { request, startLiveNode, type LiveNode } from './support/live-node';
import { MockHttp } from './support/mock-http';

// a node started three times per dialect on a shared, busy machine
jest.setTimeout(120_000);

/**
 * `POST /admin/quotas/:consumer_id/reset` outlives a restart: a node counts its quotas back from the request logs
 * when it starts, and counts only what was admitted after the key's latest reset (recorded in the database).
 */
describe.each(testDialects())('a quota reset survives a restart of the node (%s)', (dialect: TestDialect) => {
  const backend = new MockHttp();
  const tenant = `acme-${randomBytes(3).toString('hex')}`;
  let env: Record<string, string>;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  let dataDir: string | undefined;
  let node: LiveNode | undefined;
  let key: { id: string; key: string };

  const start = async () => (node = await startLiveNode(env));
  const restart = async () => {
    await node!.close(); // its request logs are written before it stops
    return start();
  };
  const call = () => request('GET', `${node!.dataUrl}/apis/${tenant}/q/x`, undefined, key.key);
  const quota = async () => (await node!.call('GET', `/admin/quotas/${key.id}`)).body;

  beforeAll(async () => {
    const backendUrl = await backend.start();
    pg = dialect === 'postgres' ? await createPostgresDatabase('migrated') : undefined;
    dataDir = pg ? undefined : mkdtempSync(join(tmpdir(), 'portico-quota-reset-'));
    // the same database and master key at every start
    env = {
      ...(pg ? { DATABASE_URL: pg.url } : { PORTICO_DATA_DIR: dataDir! }),
      PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
    };
    await start();
    expect((await node!.call('POST', '/v1/admin/tenants', { id: tenant, name: 'Acme' })).status).toBe(201);
    const tier = { id: `t-${tenant}`, limit: 1000, window_secs: 60, daily_quota: 3, monthly_quota: 50 };
    expect((await node!.call('POST', '/v1/admin/rate-limit-tiers', tier)).status).toBe(201);
    key = (await node!.call('POST', `/v1/admin/tenants/${tenant}/keys`, { name: 'k', rate_limit_tier: tier.id })).body;
    const api = {
      id: 'q',
      name: 'quota',
      tenant_id: tenant,
      path_prefix: `/apis/${tenant}/q`,
      backend_url: backendUrl,
      methods: [],
      activated: true,
    };
    expect((await node!.call('POST', '/admin/apis', api)).status).toBe(201);
    await until(async () => (await call()).status !== 404, 5000);
  }, 240_000);

  afterAll(async () => {
    await node?.close();
    await pg?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await backend.stop();
  });

  test('spent, restarted: still spent; reset, restarted: only what came after the reset counts', async () => {
    // the warm-up call above was admitted: two more fill the daily quota of 3
    expect([(await call()).status, (await call()).status, (await call()).status]).toEqual([200, 200, 429]);
    expect(await quota()).toMatchObject({ daily_count: 3, monthly_count: 3 });

    // without a reset, a restart reads the spent quota back from the request logs
    await restart();
    expect(await quota()).toMatchObject({ daily_count: 3, monthly_count: 3, daily_remaining: 0 });
    expect((await call()).status).toBe(429);

    const reset = await node!.call('POST', `/admin/quotas/${key.id}/reset`);
    expect([reset.status, reset.body]).toEqual([
      200,
      { status: 'ok', message: `Quota reset for consumer '${key.id}'` },
    ]);
    expect((await call()).status).toBe(200);
    expect(await quota()).toMatchObject({ daily_count: 1, monthly_count: 1 });

    // the reset holds across a restart: the one request after it counts, the three before do not
    await restart();
    expect(await quota()).toEqual({
      consumer_id: key.id,
      daily_count: 1,
      daily_limit: 3,
      monthly_count: 1,
      monthly_limit: 50,
      daily_remaining: 2,
      monthly_remaining: 49,
    });
    expect([(await call()).status, (await call()).status, (await call()).status]).toEqual([200, 200, 429]);
  });

  test('a reset with nothing counted since also holds: the key starts the restarted node at zero', async () => {
    expect((await node!.call('POST', `/admin/quotas/${key.id}/reset`)).status).toBe(200);
    await restart();
    expect(await quota()).toMatchObject({ daily_count: 0, monthly_count: 0, daily_remaining: 3 });
    expect((await call()).status).toBe(200);
  });
});
