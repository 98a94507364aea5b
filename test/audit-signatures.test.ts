import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPublicKey, verify } from 'node:crypto';
import { sql } from 'kysely';
import { exportAll, hashOf, seedAuditLog, tamperAndRestore, toRow, verifyApi } from './support/audit-chain';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

const run = promisify(execFile);

/**
 * Every event is signed (the contract: `signature` = Ed25519 over `hash`), a bulk append too, so an event verifies on
 * its own and a filtered export verifies without the rest of the chain. Seq 1-6 are the seed (one append each), 7-9
 * the three tenants of one import (one append), 10 its CONFIG_IMPORTED event.
 */
describe.each(testDialects())('audit signatures (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await seedAuditLog(t);
    const tenants = ['c1', 'c2', 'c3'].map((id) => ({ id, name: `Tenant ${id}` }));
    const res = await t.api('POST', '/v1/admin/config/import?mode=merge', { version: 1, tenants });
    if (res.status !== 200) throw new Error(`import answered ${res.status}: ${res.text}`);
  });
  afterAll(() => t?.close());

  const db = () => t.gateway.db;
  const tampered = (tamper: () => Promise<unknown>) => tamperAndRestore(t, tamper, 10);
  const setRow = (seq: number, change: Record<string, unknown>) =>
    db()
      .updateTable('audit_events')
      .set(change as never)
      .where('seq', '=', seq as never)
      .execute();

  test('every event of an append is signed over its hash, and the chain verifies', async () => {
    const events = (await exportAll(t)).reverse();
    const key = createPublicKey((await t.api('GET', '/v1/admin/audit/public-key')).text);
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      ...[1, 2, 3].map((seq) => [seq, 'TENANT_CREATED']),
      [4, 'API_KEY_CREATED'],
      [5, 'TENANT_UPDATED'],
      [6, 'API_KEY_CREATED'],
      ...[7, 8, 9].map((seq) => [seq, 'TENANT_CREATED']),
      [10, 'CONFIG_IMPORTED'],
    ]);
    for (const e of events)
      expect(verify(null, Buffer.from(e.hash), key, Buffer.from(e.signature, 'base64'))).toBe(true);
    expect(await verifyApi(t)).toEqual({ valid: true, checked: 10, first_invalid_seq: null });
  });

  test('an event of a bulk append changed is found at its seq, with the reason', async () => {
    const result = await tampered(() => setRow(8, { type: 'TENANT_DELETED' }));
    expect(result).toEqual({
      valid: false,
      checked: 7,
      first_invalid_seq: 8,
      reason: 'seq 8: hash does not match the event',
    });
  });

  test('history rewritten with every hash recomputed fails at the first rewritten signature', async () => {
    const result = await tampered(async () => {
      const events = (await exportAll(t)).reverse();
      events[7].type = 'TENANT_DELETED';
      for (let i = 7; i < events.length; i++) {
        events[i].prev_hash = events[i - 1].hash;
        events[i].hash = hashOf(events[i].prev_hash, events[i]);
        await setRow(events[i].seq, { type: events[i].type, prev_hash: events[i].prev_hash, hash: events[i].hash });
      }
    });
    expect(result).toMatchObject({ valid: false, checked: 7, first_invalid_seq: 8 });
    expect(result.reason).toMatch(/^seq 8: signature is not valid/);
  });

  test('a signature removed, or copied from another event, is not valid', async () => {
    const s6 = await db()
      .selectFrom('audit_events')
      .select('signature')
      .where('seq', '=', 6 as never)
      .executeTakeFirstOrThrow();
    for (const signature of ['', s6.signature])
      expect(await tampered(() => setRow(8, { signature }))).toMatchObject({
        valid: false,
        checked: 7,
        first_invalid_seq: 8,
        reason: 'seq 8: signature is not valid',
      });
  });

  test('an event deleted, or the newest ones, are found at the missing seq', async () => {
    const del = (op: '=' | '>=', seq: number) => () =>
      db()
        .deleteFrom('audit_events')
        .where('seq', op, seq as never)
        .execute();
    expect(await tampered(del('=', 8))).toMatchObject({ valid: false, checked: 7, first_invalid_seq: 8 });
    expect(await tampered(del('>=', 9))).toMatchObject({ valid: false, checked: 8, first_invalid_seq: 9 });
  });

  test('a row inserted in the middle of an append, later seqs renumbered, is found', async () => {
    const result = await tampered(async () => {
      await sql`update audit_events set seq = seq + 1000 where seq >= 8`.execute(db());
      await sql`update audit_events set seq = seq - 999 where seq >= 1008`.execute(db());
      const [s7] = (await exportAll(t)).filter((e) => e.seq === 7);
      const forged = { ...s7, id: 'evt_forged', seq: 8, type: 'TENANT_DELETED', prev_hash: s7.hash };
      forged.hash = hashOf(s7.hash, forged);
      await db()
        .insertInto('audit_events')
        .values(toRow({ ...forged, signature: s7.signature }) as never)
        .execute();
    });
    expect(result).toMatchObject({ valid: false, checked: 7, first_invalid_seq: 8 });
  });

  test('portico audit verify: a whole export and a filtered one verify; a changed event does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-signatures-'));
    const file = (name: string, content: unknown) => {
      writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
      return join(dir, name);
    };
    const pem = file('key.pem', (await t.api('GET', '/v1/admin/audit/public-key')).text);
    const all = await exportAll(t);
    const c2 = (await t.api('GET', '/v1/admin/audit/events/export/json?tenant_id=c2')).body;
    expect(c2.map((e: any) => e.seq)).toEqual([8]);
    const cli = (name: string, events: unknown, ...more: string[]) =>
      run('node', ['cli/portico.js', 'audit', 'verify', '--file', file(name, events), '--public-key', pem, ...more], {
        cwd: join(__dirname, '..'),
      }).then(
        (r) => ({ code: 0, result: JSON.parse(r.stdout) }),
        (e) => ({ code: e.code as number, result: JSON.parse(e.stdout as string) }),
      );
    const tamperedAll = all.map((e) => (e.seq === 8 ? { ...e, type: 'TENANT_DELETED' } : e));
    const [whole, filtered, broken] = await Promise.all([
      cli('all.json', all, '--full'),
      cli('c2.json', c2),
      cli('tampered.json', tamperedAll, '--full'),
    ]);
    expect(whole).toEqual({ code: 0, result: { valid: true, checked: 10, first_invalid_seq: null } });
    expect(filtered).toEqual({ code: 0, result: { valid: true, checked: 1, first_invalid_seq: null } });
    expect(broken).toEqual({
      code: 1,
      result: { valid: false, checked: 7, first_invalid_seq: 8, reason: 'seq 8: hash does not match the event' },
    });
  }, 60_000);

  // last: it grows the chain the tests above restore
  test('an append longer than one slice (hashed, signed and stored 1,000 at a time) is one chain, all signed', async () => {
    const tenants = Array.from({ length: 2500 }, (_, i) => ({ id: `bulk-${i}`, name: `Bulk ${i}` }));
    const res = await t.api('POST', '/v1/admin/config/import?mode=merge', { version: 1, tenants });
    expect(res.status).toBe(200);
    const unsigned = await db().selectFrom('audit_events').select('seq').where('signature', '=', '').execute();
    expect(unsigned).toEqual([]);
    // seq 11-2510 the tenants, 2511 CONFIG_IMPORTED
    expect(await verifyApi(t)).toEqual({ valid: true, checked: 2511, first_invalid_seq: null });
  }, 60_000);
});
