import type { AddressInfo } from 'node:net';
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
