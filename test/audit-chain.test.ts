import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

const run = promisify(execFile);
const cli = join(__dirname, '..', 'cli', 'portico.js');

describe.each(testDialects())('audit chain (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    for (let i = 1; i <= 5; i++) await t.api('POST', '/v1/admin/tenants', { id: `t${i}`, name: `Tenant, "${i}"` });
  });
  afterAll(() => t?.close());

  const verify = async () => (await t.api('GET', '/v1/admin/audit/verify')).body;
  const row = (seq: number) => t.gateway.db.selectFrom('audit_events').selectAll().where('seq', '=', seq as never).executeTakeFirstOrThrow();
  /** Runs `tamper`, checks what verify says, then puts the row back as it was. */
  const tampered = async (seq: number, tamper: () => Promise<unknown>) => {
    const original = await row(seq);
    await tamper();
    const result = await verify();
    await t.gateway.db.deleteFrom('audit_events').where('seq', '=', seq as never).execute();
    await t.gateway.db.insertInto('audit_events').values({ ...original, seq: Number(original.seq), actor: JSON.stringify(original.actor), changes: JSON.stringify(original.changes) } as never).execute();
    expect(await verify()).toMatchObject({ valid: true });
    return result;
  };

  test('an untouched chain verifies', async () => {
    expect(await verify()).toEqual({ valid: true, checked: 5, first_invalid_seq: null });
  });

  test('a changed row is found at its seq', async () => {
    const changedType = await tampered(3, () => t.gateway.db.updateTable('audit_events').set({ type: 'TENANT_DELETED' }).where('seq', '=', 3 as never).execute());
    expect(changedType).toEqual({ valid: false, checked: 2, first_invalid_seq: 3 });
    const changedData = await tampered(4, () => sql`update audit_events set changes = jsonb_set(changes, '{name,to}', '"Mallory"') where seq = 4`.execute(t.gateway.db));
    expect(changedData.first_invalid_seq).toBe(4);
  });

  test('a deleted row is found at the missing seq', async () => {
    const result = await tampered(3, () => t.gateway.db.deleteFrom('audit_events').where('seq', '=', 3 as never).execute());
    expect(result).toEqual({ valid: false, checked: 2, first_invalid_seq: 3 });
  });

  test('an inserted row is found at its seq, even with a correct-looking hash', async () => {
    const last = await row(5);
    const { chainHash } = await import('../server/audit/chain');
    const forged = { id: 'evt_forged', seq: 6, created_at: new Date().toISOString(), type: 'TENANT_DELETED', actor: last.actor, tenant_id: 't1', resource: { kind: 'tenant', id: 't1' }, changes: null, trace_id: null };
    await t.gateway.db
      .insertInto('audit_events')
      .values({ ...forged, seq: 6, resource_kind: 'tenant', resource_id: 't1', actor: JSON.stringify(last.actor), changes: 'null', resource: undefined, prev_hash: last.hash, hash: chainHash(last.hash, forged), signature: last.signature } as never)
      .execute();
    expect(await verify()).toEqual({ valid: false, checked: 5, first_invalid_seq: 6 });
    await t.gateway.db.deleteFrom('audit_events').where('seq', '=', 6 as never).execute();
  });

  test('50 concurrent mutations over real sockets leave one unbroken chain', async () => {
    await t.admin.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(t.admin.server.address() as AddressInfo).port}`;
    const post = (path: string, body: object) => fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${OWNER_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? post('/v1/admin/tenants/t1/keys', { name: `k${i}` }) : post('/v1/admin/tenants', { id: `c${i}`, name: `C${i}` })).then((r) => r.status)));
    expect(statuses).toEqual(Array(50).fill(201));
    expect(await verify()).toEqual({ valid: true, checked: 55, first_invalid_seq: null });
    const rows = await t.gateway.db.selectFrom('audit_events').select(['seq', 'prev_hash', 'hash']).orderBy('seq').execute();
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 55 }, (_, i) => i + 1));
    rows.slice(1).forEach((r, i) => expect(r.prev_hash).toBe(rows[i]!.hash));
  });

  test('filters, newest-first paging and bad parameters', async () => {
    const page1 = (await t.api('GET', '/v1/admin/audit/events?type=API_KEY_CREATED&tenant_id=t1&limit=10')).body;
    expect(page1.data).toHaveLength(10);
    expect(page1.data.every((e: any) => e.type === 'API_KEY_CREATED' && e.tenant_id === 't1')).toBe(true);
    const seen = new Set<number>(page1.data.map((e: any) => e.seq));
    let cursor = page1.next_cursor;
    let last = page1.data[9].seq;
    while (cursor) {
      const page = (await t.api('GET', `/v1/admin/audit/events?type=API_KEY_CREATED&tenant_id=t1&limit=10&cursor=${cursor}`)).body;
      for (const e of page.data) {
        expect(e.seq).toBeLessThan(last);
        seen.add(e.seq);
        last = e.seq;
      }
      cursor = page.next_cursor;
    }
    expect(seen.size).toBe(25);
    const today = new Date().toISOString().slice(0, 10);
    expect((await t.api('GET', `/v1/admin/audit/events?to=${today}&limit=500`)).body.data).toHaveLength(55);
    expect((await t.api('GET', '/v1/admin/audit/events?from=2999-01-01')).body.data).toEqual([]);
    expect((await t.api('GET', '/v1/admin/audit/events?from=yesterday')).body.error.details[0].path).toBe('from');
    expect((await t.api('GET', '/v1/admin/audit/events?limit=0')).body.error.details[0].path).toBe('limit');
  });

  test('CSV and JSON exports carry the same events with signatures intact; the CLI verifies them offline', async () => {
    const csv = await t.api('GET', '/v1/admin/audit/events/export?tenant_id=t2');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('id,seq,created_at,type,actor_type,actor_id,actor_name,tenant_id,resource_kind,resource_id,changes,trace_id,prev_hash,hash,signature');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('"{""name"":{""to"":""Tenant, \\""2\\"""",""from"":null}');

    const events = (await t.api('GET', '/v1/admin/audit/events/export/json')).body;
    expect(events).toHaveLength(55);
    expect(lines[1]).toContain(events.find((e: any) => e.tenant_id === 't2').signature);
    const dir = mkdtempSync(join(tmpdir(), 'portico-audit-'));
    writeFileSync(join(dir, 'export.json'), JSON.stringify(events));
    writeFileSync(join(dir, 'key.pem'), (await t.api('GET', '/v1/admin/audit/public-key')).text);
    const ok = await run('node', [cli, 'audit', 'verify', '--file', join(dir, 'export.json'), '--public-key', join(dir, 'key.pem')]);
    expect(JSON.parse(ok.stdout)).toEqual({ valid: true, checked: 55, first_invalid_seq: null });

    events.find((e: any) => e.seq === 17).type = 'SOMETHING_ELSE';
    writeFileSync(join(dir, 'tampered.json'), JSON.stringify(events));
    const bad = await run('node', [cli, 'audit', 'verify', '--file', join(dir, 'tampered.json'), '--public-key', join(dir, 'key.pem')]).catch((e) => e);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ valid: false, first_invalid_seq: 17 });

    writeFileSync(join(dir, 'other.pem'), generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const wrongKey = await run('node', [cli, 'audit', 'verify', '--file', join(dir, 'export.json'), '--public-key', join(dir, 'other.pem')]).catch((e) => e);
    expect(wrongKey.code).toBe(1);
    expect(JSON.parse(wrongKey.stdout)).toMatchObject({ valid: false, first_invalid_seq: 1, reason: 'signature is not valid' });
  });

  test('the request id becomes the trace id', async () => {
    const res = await t.admin.inject({ method: 'POST', url: '/v1/admin/tenants', headers: { authorization: `Bearer ${OWNER_TOKEN}`, 'content-type': 'application/json', 'x-request-id': 'my-trace-1' }, payload: { id: 'traced', name: 'T' } });
    expect(res.statusCode).toBe(201);
    expect((await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0]).toMatchObject({ type: 'TENANT_CREATED', trace_id: 'my-trace-1' });
  });
});
