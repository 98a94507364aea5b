import { randomBytes } from 'node:crypto';
import { createPostgresDatabase, testDialects } from './support/databases';
import { until } from './support/gateway';
import { request, startLiveNode, type LiveNode } from './support/live-node';
import { MockHttp } from './support/mock-http';

jest.setTimeout(120_000);

/**
 * Two data nodes (`PORTICO_ROLE=data`, `/admin/*` on their data port) and a control node on one PostgreSQL: what is
 * written through one node's `/admin/apis` serves on the other within a second (the configuration is shared), while
 * breakers and quota counts are each node's own, and their resets act on the node they are sent to (a quota reset is
 * also kept in the database, for the counts a node reads back when it starts).
 */
const withPostgres = testDialects().includes('postgres') ? describe : describe.skip;

withPostgres('node admin API on two data nodes sharing one PostgreSQL', () => {
  let pg: { url: string; drop(): Promise<void> };
  let control: LiveNode;
  let a: LiveNode;
  let b: LiveNode;
  const backend = new MockHttp();
  let backendUrl: string;
  const tenant = `acme-${randomBytes(3).toString('hex')}`;
  let key: string;
  let quotaKey: { id: string; key: string };
  let env: Record<string, string>;

  const get = (node: LiveNode, path: string, token = key) => request('GET', node.dataUrl + path, undefined, token);
  const api = (id: string, path: string) => ({
    id,
    name: id,
    tenant_id: tenant,
    path_prefix: `/apis/${tenant}/${path}`,
    backend_url: backendUrl,
    methods: [],
    spec_hash: null,
    activated: true,
  });

  beforeAll(async () => {
    backendUrl = await backend.start();
    pg = await createPostgresDatabase('migrated');
    env = { DATABASE_URL: pg.url, PORTICO_MASTER_KEY: randomBytes(32).toString('base64') };
    control = await startLiveNode({ ...env, PORTICO_ROLE: 'control' });
    [a, b] = await Promise.all([
      startLiveNode({ ...env, PORTICO_ROLE: 'data' }),
      startLiveNode({ ...env, PORTICO_ROLE: 'data' }),
    ]);
    expect([a.server.adminUrl, a.adminBase]).toEqual([undefined, a.dataUrl]);
    expect((await control.call('POST', '/v1/admin/tenants', { id: tenant, name: 'Acme' })).status).toBe(201);
    const tier = { id: `t-${tenant}`, limit: 1000, window_secs: 60, daily_quota: 10 };
    expect((await control.call('POST', '/v1/admin/rate-limit-tiers', tier)).status).toBe(201);
    const plain = await control.call('POST', `/v1/admin/tenants/${tenant}/keys`, { name: 'k' });
    key = plain.body.key;
    const quoted = await control.call('POST', `/v1/admin/tenants/${tenant}/keys`, {
      name: 'q',
      rate_limit_tier: tier.id,
    });
    quotaKey = quoted.body;
    expect((await a.call('POST', '/admin/apis', api('warmup', 'warmup'))).status).toBe(201);
    for (const node of [a, b])
      await until(async () => (await get(node, `/apis/${tenant}/warmup/x`)).status === 200, 5000);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await control?.close();
    await pg?.drop();
    await backend.stop();
  });

  test('an API upserted through one node serves traffic on the other within 1 s, audited', async () => {
    expect((await get(b, `/apis/${tenant}/orders/1`)).status).toBe(404);
    const written = await a.call('POST', '/admin/apis', api('orders', 'orders'));
    expect(written.status).toBe(201);
    const start = Date.now();
    let status = 0;
    while (Date.now() - start < 1000 && status !== 200) {
      status = (await get(b, `/apis/${tenant}/orders/1`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
    expect((await b.call('GET', '/admin/apis/orders')).body).toEqual(api('orders', 'orders'));
    const events = await control.call('GET', `/v1/admin/audit/events?tenant_id=${tenant}&type=ROUTE_CREATED`);
    expect(events.body.data.find((e: any) => e.resource.id === 'orders')).toMatchObject({
      actor: { type: 'token', id: 'bootstrap' },
      changes: { path_prefix: { from: null, to: `/apis/${tenant}/orders` } },
    });
  });

  test('a breaker opens on the node whose traffic failed, and a reset acts on that node only', async () => {
    expect((await a.call('POST', '/admin/apis', api('flaky', 'flaky'))).status).toBe(201);
    for (const node of [a, b]) await until(async () => (await get(node, `/apis/${tenant}/flaky/ok`)).status === 200);
    for (let i = 0; i < 5; i++) expect((await get(a, `/apis/${tenant}/flaky/fail`)).status).toBe(500);
    const name = `${tenant}/flaky`;
    const stateOn = async (node: LiveNode) =>
      (await node.call('GET', '/admin/circuit-breakers')).body.find((c: any) => c.name === name)?.state;
    expect([await stateOn(a), await stateOn(b)]).toEqual(['open', 'closed']);
    expect((await get(a, `/apis/${tenant}/flaky/ok`)).status).toBe(503);
    expect((await get(b, `/apis/${tenant}/flaky/ok`)).status).toBe(200);
    const path = `/admin/circuit-breakers/${encodeURIComponent(name)}/reset`;
    // B's circuit is closed: its reset leaves A's open
    expect((await b.call('POST', path)).status).toBe(200);
    expect(await stateOn(a)).toBe('open');
    expect((await a.call('POST', path)).status).toBe(200);
    expect(await stateOn(a)).toBe('closed');
    expect((await get(a, `/apis/${tenant}/flaky/ok`)).status).toBe(200);
  });

  test('quota counts are per node, and a reset acts on the node it was sent to', async () => {
    for (let i = 0; i < 2; i++) expect((await get(a, `/apis/${tenant}/orders/q`, quotaKey.key)).status).toBe(200);
    expect((await get(b, `/apis/${tenant}/orders/q`, quotaKey.key)).status).toBe(200);
    const count = async (node: LiveNode) => (await node.call('GET', `/admin/quotas/${quotaKey.id}`)).body.daily_count;
    expect([await count(a), await count(b)]).toEqual([2, 1]);
    const reset = await a.call('POST', `/admin/quotas/${quotaKey.id}/reset`);
    expect([reset.status, reset.body.message]).toEqual([200, `Quota reset for consumer '${quotaKey.id}'`]);
    expect([await count(a), await count(b)]).toEqual([0, 1]);
    // the reset is kept in the database: a node that starts later counts back (from every node's request logs)
    // only what came after it, here nothing
    await b.close();
    b = await startLiveNode({ ...env, PORTICO_ROLE: 'data' });
    expect([await count(a), await count(b)]).toEqual([0, 0]);
    expect((await get(b, `/apis/${tenant}/orders/q`, quotaKey.key)).status).toBe(200);
    expect([await count(a), await count(b)]).toEqual([0, 1]);
  });
});
