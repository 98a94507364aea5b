import type { AddressInfo } from 'node:net';
import { AuditLog } from '../server/audit/audit-log';
import { expectOneChain, seedAuditLog } from './support/audit-chain';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

describe.each(testDialects())('audit log under concurrent mutations (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await seedAuditLog(t);
  });
  afterAll(() => t?.close());

  /** 50 mixed mutations, 5 of them racing for one tenant id: each 201 leaves exactly one event, each 409 none. */
  const concurrentWrites = async (
    prefix: string,
    post: (path: string, body: object) => Promise<{ status: number; body: any }>,
  ) => {
    const before = await expectOneChain(t);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i < 5
          ? post('/v1/admin/tenants', { id: `${prefix}-dup`, name: 'race' })
          : i % 2
            ? post('/v1/admin/tenants/alpha/keys', { name: `${prefix}-${i}` })
            : post('/v1/admin/tenants', { id: `${prefix}-${i}`, name: `T ${i}` }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(46);
    expect(statuses.filter((s) => s === 409)).toHaveLength(4);
    expect(await expectOneChain(t)).toBe(before + 46);
    const events = (await t.api('GET', `/v1/admin/audit/events?limit=46`)).body.data;
    const createdIds = results.filter((r) => r.status === 201).map((r) => r.body.id);
    expect(events.map((e: any) => e.resource.id).sort()).toEqual(createdIds.sort());
  };

  test('50 in parallel through inject', () => concurrentWrites('inj', (path, body) => t.api('POST', path, body)));

  test('50 in parallel over a real socket', async () => {
    await t.admin.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(t.admin.server.address() as AddressInfo).port}`;
    await concurrentWrites('sock', async (path, body) => {
      const res = await fetch(base + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${OWNER_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    });
  });
});

describe.each(testDialects())('audit chain under 8-way writes from an empty chain (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
  });
  afterAll(() => t?.close());

  /**
   * Eight writers race from the very first event (the chain has no head yet: its first writers serialize on the
   * advisory lock, later ones on the head's row), each creating a tenant, renaming it and giving it a key, in turn.
   */
  test('every write is one link of one chain that verifies, and the head names its end', async () => {
    const WAYS = 8;
    const ROUNDS = 4;
    const writer = async (w: number) => {
      for (let r = 0; r < ROUNDS; r++) {
        const id = `w${w}-r${r}`;
        const steps: [string, string, object][] = [
          ['POST', '/v1/admin/tenants', { id, name: id }],
          ['PUT', `/v1/admin/tenants/${id}`, { name: `${id} renamed` }],
          ['POST', `/v1/admin/tenants/${id}/keys`, { name: 'k' }],
        ];
        for (const [method, path, body] of steps) expect((await t.api(method, path, body)).status).toBeLessThan(300);
      }
    };
    await Promise.all(Array.from({ length: WAYS }, (_, w) => writer(w)));
    expect(await expectOneChain(t)).toBe(WAYS * ROUNDS * 3);
    const head = await t.gateway.db.selectFrom('audit_head').select(['seq', 'hash']).executeTakeFirstOrThrow();
    const last = await t.gateway.db
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    expect({ seq: Number(head.seq), hash: head.hash }).toEqual({ seq: Number(last.seq), hash: last.hash });
  });
});

describe.each(testDialects())('audit chain with two writing processes (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await seedAuditLog(t);
  });
  afterAll(() => t?.close());

  /**
   * A second log with the same key on the same database stands for another process: each one's idea of the head is
   * stale whenever the other wrote last, so every such write misses its one-statement append and links on the head
   * it then reads; a rolled-back write leaves a prediction that was never committed.
   */
  test('appends alternating between two logs, one rolled back, leave one chain that verifies', async () => {
    const other = new AuditLog(t.gateway.keys.auditSigningKey);
    const logs = [t.gateway.audit, other];
    const before = await expectOneChain(t);
    const entry = (i: number) => ({
      type: 'TEST_EVENT',
      actor: { type: 'system', id: 'test', name: 'test' },
      tenant_id: null,
      resource: null,
      changes: { i },
    });
    for (let i = 0; i < 12; i++) {
      const log = logs[i % 3 === 0 ? 0 : 1]!;
      await t.gateway.db.transaction().execute((tx) => log.append(tx, [entry(i), entry(i + 100)]));
    }
    await expect(
      t.gateway.db.transaction().execute(async (tx) => {
        await other.append(tx, [entry(999)]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    for (let i = 0; i < 4; i++)
      await t.gateway.db.transaction().execute((tx) => logs[i % 2]!.append(tx, [entry(1000 + i)]));
    expect(await expectOneChain(t)).toBe(before + 24 + 4);
  });
});
