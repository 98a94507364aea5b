import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPublicKey, verify } from 'node:crypto';
import { sql } from 'kysely';
import { verifyWithHead } from '../server/audit/chain';
import { readChain, readHead } from '../server/store/audit-events';
import { exportAll, hashOf, seedAuditLog, tamperAndRestore, toRow, verifyApi } from './support/audit-chain';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

const run = promisify(execFile);

/**
 * Signatures are checkpoints: an append of many events (a config import) signs only its last one, which vouches for
 * the others through the chain. Seq 1-6 are the seed (one append each), 7-9 the three tenants of one import (one
 * append: only 9 signed), 10 its CONFIG_IMPORTED event.
 */
describe.each(testDialects())('audit checkpoints (%s)', (dialect) => {
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
  /** What the verifier says beyond the API's three fields: the event that broke, and why. */
  const verifyHere = async () =>
    verifyWithHead(
      await readChain(db()),
      await readHead(db()),
      createPublicKey((await t.api('GET', '/v1/admin/audit/public-key')).text),
    );
  const setRow = (seq: number, change: Record<string, unknown>) =>
    db()
      .updateTable('audit_events')
      .set(change as never)
      .where('seq', '=', seq as never)
      .execute();

  test('an append signs only its last event, and the chain verifies with the unsigned ones in it', async () => {
    const events = (await exportAll(t)).reverse();
    const key = createPublicKey((await t.api('GET', '/v1/admin/audit/public-key')).text);
    expect(events.map((e) => [e.seq, e.type, e.signature === ''])).toEqual([
      ...[1, 2, 3].map((seq) => [seq, 'TENANT_CREATED', false]),
      [4, 'API_KEY_CREATED', false],
      [5, 'TENANT_UPDATED', false],
      [6, 'API_KEY_CREATED', false],
      [7, 'TENANT_CREATED', true],
      [8, 'TENANT_CREATED', true],
      [9, 'TENANT_CREATED', false],
      [10, 'CONFIG_IMPORTED', false],
    ]);
    for (const e of events.filter((e) => e.signature !== ''))
      expect(verify(null, Buffer.from(e.hash), key, Buffer.from(e.signature, 'base64'))).toBe(true);
    expect(await verifyApi(t)).toEqual({ valid: true, checked: 10, first_invalid_seq: null });
  });

  test('an unsigned event changed: the events its checkpoint covered before it are not vouched for either', async () => {
    let found;
    const result = await tampered(async () => {
      await setRow(8, { type: 'TENANT_DELETED' });
      found = await verifyHere();
    });
    expect(result).toEqual({ valid: false, checked: 6, first_invalid_seq: 7 });
    expect(found).toMatchObject({ broken_at_seq: 8, reason: expect.stringMatching(/^seq 8: hash does not match/) });
  });

  test('history rewritten with every hash recomputed fails at the checkpoint that covered it', async () => {
    let found;
    const result = await tampered(async () => {
      const events = (await exportAll(t)).reverse();
      events[7].type = 'TENANT_DELETED';
      for (let i = 7; i < events.length; i++) {
        events[i].prev_hash = events[i - 1].hash;
        events[i].hash = hashOf(events[i].prev_hash, events[i]);
        await setRow(events[i].seq, { type: events[i].type, prev_hash: events[i].prev_hash, hash: events[i].hash });
      }
      found = await verifyHere();
    });
    expect(result).toEqual({ valid: false, checked: 6, first_invalid_seq: 7 });
    expect(found).toMatchObject({ broken_at_seq: 9, reason: expect.stringMatching(/^seq 9: signature is not valid/) });
  });

  test('an unsigned event deleted is found at its seq, the ones before it in its append with it', async () => {
    let found;
    const result = await tampered(async () => {
      await db()
        .deleteFrom('audit_events')
        .where('seq', '=', 8 as never)
        .execute();
      found = await verifyHere();
    });
    expect(result).toEqual({ valid: false, checked: 6, first_invalid_seq: 7 });
    expect(found).toMatchObject({ broken_at_seq: 8 });
  });

  test('the checkpoints deleted from the end: the unsigned events left are not vouched for', async () => {
    const result = await tampered(() =>
      db()
        .deleteFrom('audit_events')
        .where('seq', '>=', 9 as never)
        .execute(),
    );
    expect(result).toEqual({ valid: false, checked: 6, first_invalid_seq: 7 });
  });

  test("a checkpoint's signature removed: the next signed event still vouches for its append", async () => {
    const result = await tampered(async () => {
      await setRow(9, { signature: '' });
      expect(await verifyApi(t)).toEqual({ valid: true, checked: 10, first_invalid_seq: null });
      // and with the last signature gone too, the signed head vouches for them
      await setRow(10, { signature: '' });
    });
    expect(result).toEqual({ valid: true, checked: 10, first_invalid_seq: null });
  });

  test('a signature put on an unsigned event must be genuine', async () => {
    const s6 = await db()
      .selectFrom('audit_events')
      .select('signature')
      .where('seq', '=', 6 as never)
      .executeTakeFirstOrThrow();
    const result = await tampered(() => setRow(8, { signature: s6.signature }));
    expect(result).toEqual({ valid: false, checked: 6, first_invalid_seq: 7 });
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
        .values(toRow({ ...forged, signature: '' }) as never)
        .execute();
    });
    expect(result).toEqual({ valid: false, checked: 6, first_invalid_seq: 7 });
  });

  test('portico audit verify: a whole export verifies; a filtered one without its checkpoint does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-checkpoints-'));
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
    expect(filtered).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: 8, broken_at_seq: 9 } });
    expect(broken).toMatchObject({
      code: 1,
      result: { valid: false, checked: 6, first_invalid_seq: 7, broken_at_seq: 8 },
    });
    expect(broken.result.reason).toMatch(/^seq 8: hash does not match the event; seq 7 was covered only through it/);
  }, 60_000);

  // last: it grows the chain the tests above restore
  test('an append longer than one slice (hashed and stored 1,000 at a time) is one chain with one checkpoint', async () => {
    const tenants = Array.from({ length: 2500 }, (_, i) => ({ id: `bulk-${i}`, name: `Bulk ${i}` }));
    const res = await t.api('POST', '/v1/admin/config/import?mode=merge', { version: 1, tenants });
    expect(res.status).toBe(200);
    const signed = await db()
      .selectFrom('audit_events')
      .select('seq')
      .where('seq', '>', 10 as never)
      .where('signature', '<>', '')
      .orderBy('seq')
      .execute();
    // seq 11-2510 the tenants, 2511 CONFIG_IMPORTED
    expect(signed.map((r) => Number(r.seq))).toEqual([2510, 2511]);
    expect(await verifyApi(t)).toEqual({ valid: true, checked: 2511, first_invalid_seq: null });
  }, 60_000);
});
