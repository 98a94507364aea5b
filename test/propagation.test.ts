import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import pino from 'pino';
import { openGateway, type OpenGateway } from '../server/app';
import { loadConfig } from '../server/config';
import { hashToken } from '../server/lib/secrets';
import { createPostgresDatabase, testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/** Polls until `check` holds; returns how long it took. Fails after `ms`. */
async function within(ms: number, check: () => boolean): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

describe.each(testDialects())('configuration snapshot (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect);
  });
  afterAll(() => t?.close());

  test('follows creates, updates, revokes and deletes within 1 s, keys found by hash', async () => {
    const snap = t.gateway.snapshot;
    await t.api('POST', '/v1/admin/tenants', { id: 'live', name: 'Live' });
    await within(1000, () => snap.get('tenant', 'live')?.name === 'Live');
    const key = (await t.api('POST', '/v1/admin/tenants/live/keys', { name: 'k' })).body;
    await within(1000, () => snap.lookup('api_key', hashToken(key.key))?.id === key.id);
    expect(snap.lookup('api_key', hashToken(key.key))).toMatchObject({ tenant_id: 'live', status: 'ACTIVE' });
    await t.api('PUT', '/v1/admin/tenants/live', { name: 'Live 2', status: 'SUSPENDED' });
    await within(1000, () => snap.get('tenant', 'live')?.status === 'SUSPENDED');
    await t.api('POST', `/v1/admin/tenants/live/keys/${key.id}/revoke`);
    await within(1000, () => snap.lookup('api_key', hashToken(key.key))?.status === 'REVOKED');
    await t.api('POST', '/v1/admin/routes', { id: 'r', model_pattern: 'gpt*', providers: [{ provider: 'openai' }] });
    await within(1000, () => snap.get('route', 'r')?.version === 1);
    await t.api('DELETE', '/v1/admin/tenants/live?cascade=true');
    await within(1000, () => !snap.get('tenant', 'live') && !snap.lookup('api_key', hashToken(key.key)));
    expect(snap.all('token')).toEqual([]);
  });

  test('a failed (rolled back) write changes nothing in the snapshot', async () => {
    const before = t.gateway.snapshot.all('tenant').length;
    expect((await t.api('POST', '/v1/admin/budgets', { tenant_id: 'ghost', limit_usd: 1 })).status).toBe(400);
    await new Promise((r) => setTimeout(r, 100));
    expect(t.gateway.snapshot.all('tenant')).toHaveLength(before);
    expect(t.gateway.snapshot.all('budget')).toEqual([]);
  });
});

const postgres = testDialects().includes('postgres') ? describe : describe.skip;
postgres('two instances on one PostgreSQL', () => {
  let a: OpenGateway;
  let b: OpenGateway;
  let drop: () => Promise<void>;
  let url: string;
  const silent = pino({ level: 'silent' });

  beforeAll(async () => {
    const pg = await createPostgresDatabase();
    drop = pg.drop;
    url = pg.url;
    const env = {
      DATABASE_URL: pg.url,
      PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
      PORTICO_ADMIN_TOKEN: 'x'.repeat(20),
    };
    a = await openGateway(loadConfig(env), silent);
    b = await openGateway(loadConfig(env), silent);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
  });

  const createTenant = async (gw: OpenGateway, id: string) => {
    const { ResourceService } = await import('../server/control/resource-service');
    const { tenant } = await import('../server/resources');
    const caller = { type: 'system' as const, id: 'test', name: 'test', role: 'owner' as const, tenantId: null };
    await new ResourceService(gw).create({ caller }, tenant, { id, name: id });
  };

  test("a change through one instance is in the other's snapshot within 1 s", async () => {
    await createTenant(a, 'from-a');
    const ms = await within(1000, () => !!b.snapshot.get('tenant', 'from-a'));
    expect(ms).toBeLessThan(1000);
    await createTenant(b, 'from-b');
    await within(1000, () => !!a.snapshot.get('tenant', 'from-b'));
  });

  test('a lost listener connection is re-established and the snapshot fully reloaded', async () => {
    const loads = b.snapshot.loads;
    const admin = new Client({ connectionString: url });
    await admin.connect();
    const killed = await admin.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'portico-listener' and datname = current_database()",
    );
    expect(killed.rowCount).toBe(2);
    await admin.end();
    await createTenant(a, 'during-outage'); // its notification may be lost: the reload must catch it
    await within(3000, () => b.snapshot.loads > loads);
    await within(1000, () => !!b.snapshot.get('tenant', 'during-outage'));
    await createTenant(a, 'after-reconnect');
    await within(1000, () => !!b.snapshot.get('tenant', 'after-reconnect'));
  });
});
