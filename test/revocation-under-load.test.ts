import pino from 'pino';
import { testDialects } from './support/databases';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';

type DataNode = Awaited<ReturnType<typeof startDataPlane>>;

const status = async (node: DataNode, key: string) => {
  const res = await fetch(`${node.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
};

describe.each(testDialects())('revocation while the admin API is loaded (%s)', (dialect) => {
  let t: TestGateway;
  let other: TestGateway | undefined;
  const nodes: DataNode[] = [];

  beforeAll(async () => {
    // PORTICO_ROLE=all: the admin API under load and the data plane that must see the revocation share one process
    t = await startTestGateway(dialect);
    nodes.push(await startDataPlane(t));
    if (dialect === 'postgres') {
      // and a data-only node on the same database
      const env = {
        DATABASE_URL: t.gateway.config.databaseUrl!,
        PORTICO_ROLE: 'data',
        PORTICO_MASTER_KEY: t.gateway.keys.masterKey.toString('base64'),
      };
      other = await startTestGateway(dialect, env, { webhooks: false });
      nodes.push(await startDataPlane(other));
    }
  });
  afterAll(async () => {
    for (const n of nodes) await n.close();
    await other?.close();
    await t?.close();
  });

  test('each revoked key is refused by every node within 1 s while 16 writers create keys', async () => {
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'busy-co', name: 'Busy Co' })).status).toBe(201);
    const keys: { id: string; key: string }[] = [];
    for (let i = 0; i < 8; i++)
      keys.push((await t.api('POST', '/v1/admin/tenants/busy-co/keys', { name: `revokable-${i}` })).body);
    for (const node of nodes) await until(async () => (await status(node, keys.at(-1)!.key)) === 200, 5000);

    let loading = true;
    let created = 0;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; loading; i++) {
        const res = await t.api('POST', '/v1/admin/tenants/busy-co/keys', { name: `load-${w}-${i}` });
        if (res.status === 201) created++;
      }
    });
    try {
      for (const { id, key } of keys) {
        expect((await t.api('POST', `/v1/admin/tenants/busy-co/keys/${id}/revoke`)).status).toBe(200);
        for (const node of nodes) await until(async () => (await status(node, key)) === 401, 1000);
      }
    } finally {
      loading = false;
      await Promise.all(writers);
    }
    expect(created).toBeGreaterThan(16); // the writers did load the admin API meanwhile
  });

  test('a close with change notifications still pending drops them instead of failing on a closed database', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const g = await startTestGateway(dialect, {}, { log });
    expect((await g.api('POST', '/v1/admin/tenants', { id: 'closing-co', name: 'Closing Co' })).status).toBe(201);
    // enough writes at once that notifications are still queued at the close, few enough that none waits on the
    // audit chain past the query timeout on a loaded machine (each write holds the chain's lock in turn)
    const creations = Array.from({ length: 60 }, (_, i) =>
      g.api('POST', '/v1/admin/tenants/closing-co/keys', { name: `k${i}` }),
    );
    const statuses = (await Promise.all(creations)).map((r) => r.status);
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
    await g.close(); // at once: the last notifications' reloads are still queued
    expect(lines.filter((line) => line.includes('configuration snapshot'))).toEqual([]);
  });
});
