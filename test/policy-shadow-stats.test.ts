import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { shadowStatsOf } from '../server/policies/shadow-stats';
import { createPostgresDatabase, testDialects, type TestDialect } from './support/databases';
import { created, setupTenant, uniqueId } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp } from './support/mock-http';

jest.setTimeout(60_000);

/**
 * SHADOW policies' statistics live in the database (issue 15): every node flushes what it counted in batches, so
 * `GET …/{id}/shadow-stats` answers the cluster's totals and they survive a restart; a failed flush keeps the counts
 * for the next one; leaving SHADOW clears them in the database. Two gateways on one PostgreSQL; one on PGlite (on
 * disk, to restart it).
 */

interface Node {
  t: TestGateway;
  data: Awaited<ReturnType<typeof startDataPlane>>;
  close(): Promise<void>;
}

describe.each(testDialects())('policies: shadow statistics in the database (%s)', (dialect: TestDialect) => {
  const backend = new MockHttp();
  let backendUrl: string;
  let env: Record<string, string>;
  let cleanup: () => Promise<void> | void;
  let a: Node;
  let b: Node | undefined; // a second gateway on the same database (PostgreSQL only: PGlite is one process's)

  const open = async (): Promise<Node> => {
    const t = await startTestGateway(dialect, env, { webhooks: false });
    const data = await startDataPlane(t);
    return {
      t,
      data,
      close: async () => {
        await data.close();
        await t.close();
      },
    };
  };

  beforeAll(async () => {
    backendUrl = await backend.start();
    env = { PORTICO_MASTER_KEY: randomBytes(32).toString('base64') };
    if (dialect === 'postgres') {
      const pg = await createPostgresDatabase('migrated');
      env.DATABASE_URL = pg.url;
      cleanup = () => pg.drop();
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'portico-shadow-'));
      env.PORTICO_DATA_DIR = dir;
      cleanup = () => rmSync(dir, { recursive: true, force: true });
    }
    a = await open();
    if (dialect === 'postgres') b = await open();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await cleanup?.();
    await backend.stop();
  });

  /** A tenant with an HTTP route and a SHADOW IP filter refusing loopback (the test client) on it. */
  const shadowed = async () => {
    const prefix = `/${uniqueId('s')}`;
    const s = await setupTenant(a.t, { route: { path_prefix: prefix, backend_url: backendUrl } });
    const p = await created(a.t, '/v1/admin/policies', {
      tenant_id: s.tenantId,
      name: 'no loopback',
      type: 'ip_filter',
      target: 'route',
      target_id: s.routeId,
      body: 'deny:\n  - 127.0.0.0/8\n  - ::1/128\n',
    });
    await setStatus(p, 'SHADOW');
    return { ...s, prefix, policy: p };
  };
  const setStatus = async (p: any, status: string) => {
    const res = await a.t.api('POST', `/v1/admin/policies/${p.id}/status?tenant_id=${p.tenant_id}`, { status });
    expect(res.status).toBe(200);
    for (const n of [a, b])
      if (n) await until(() => n.t.gateway.snapshot.get('policy', p.id, p.tenant_id)?.status === status);
  };
  const call = async (n: Node, s: { prefix: string; key: string }) => {
    const res = await fetch(`${n.data.url}${s.prefix}/x`, { headers: { authorization: `Bearer ${s.key}` } });
    expect(res.status).toBe(200); // a SHADOW policy never acts
  };
  const stats = async (n: Node, p: any) =>
    (await n.t.api('GET', `/v1/admin/policies/${p.id}/shadow-stats?tenant_id=${p.tenant_id}`)).body;
  const storedRows = async (p: any) =>
    (
      await a.t.gateway.db
        .selectFrom('policy_shadow_counts')
        .select('count')
        .where('policy_owner', '=', p.tenant_id)
        .where('policy_id', '=', p.id)
        .execute()
    ).length;

  test('every node adds its counts: any node answers the totals and the newest samples', async () => {
    const s = await shadowed();
    const nodes = b ? [a, b] : [a];
    for (const n of nodes) for (let i = 0; i < 3; i++) await call(n, s);
    const want = 3 * nodes.length;
    // the other node flushes on its own every second; the asking node flushes its own first
    await until(async () => (await stats(a, s.policy)).evaluated === want, 5000);
    for (const n of nodes) {
      const report = await stats(n, s.policy);
      expect(report).toMatchObject({ status: 'SHADOW', evaluated: want, verdicts: { deny: want } });
      expect(report.samples).toHaveLength(want);
      expect(report.samples[0]).toMatchObject({ verdict: 'deny', path: `${s.prefix}/x`, tenant_id: s.tenantId });
      expect(Date.parse(report.since)).toBeLessThanOrEqual(Date.parse(report.samples.at(-1).at));
    }
    // samples are kept to the newest 20, counts are not
    for (let i = 0; i < 25; i++) await call(a, s);
    const many = await stats(a, s.policy);
    expect([many.evaluated, many.samples.length]).toEqual([want + 25, 20]);
  });

  test('the totals survive a restart of the gateway', async () => {
    const s = await shadowed();
    for (let i = 0; i < 4; i++) await call(a, s);
    await a.close(); // its data plane flushes what it counted as it stops
    a = await open();
    await until(() => a.t.gateway.snapshot.get('policy', s.policy.id, s.tenantId)?.status === 'SHADOW');
    expect(await stats(a, s.policy)).toMatchObject({ evaluated: 4, verdicts: { deny: 4 } });
  });

  test('a failed flush keeps the counts for the next one', async () => {
    const s = await shadowed();
    for (let i = 0; i < 2; i++) await call(a, s);
    const db = a.t.gateway.db;
    await sql`alter table policy_shadow_counts rename to policy_shadow_counts_away`.execute(db);
    try {
      await shadowStatsOf(a.t.gateway).flush(); // refused by the database: nothing is lost
    } finally {
      await sql`alter table policy_shadow_counts_away rename to policy_shadow_counts`.execute(db);
    }
    await call(a, s);
    expect(await stats(a, s.policy)).toMatchObject({ evaluated: 3, verdicts: { deny: 3 } });
  });

  test('leaving SHADOW (promotion included) clears the statistics in the database', async () => {
    const s = await shadowed();
    for (let i = 0; i < 2; i++) await call(a, s);
    expect((await stats(a, s.policy)).evaluated).toBe(2);
    expect(await storedRows(s.policy)).toBe(1);
    await setStatus(s.policy, 'DRAFT');
    expect(await storedRows(s.policy)).toBe(0);
    expect(await stats(b ?? a, s.policy)).toMatchObject({ status: 'DRAFT', evaluated: 0, since: null, samples: [] });
    // a fresh shadow period starts from zero, and promotion ends it the same way
    await setStatus(s.policy, 'SHADOW');
    await call(b ?? a, s);
    await until(async () => (await stats(a, s.policy)).evaluated === 1, 5000);
    const promoted = await a.t.api('POST', `/v1/admin/policies/${s.policy.id}/promote?tenant_id=${s.tenantId}`);
    expect(promoted.status).toBe(200);
    expect(await storedRows(s.policy)).toBe(0);
    expect((await stats(a, s.policy)).evaluated).toBe(0);
  });
});
