import { sql } from 'kysely';
import {
  exportAll,
  foreignKeys,
  hashOf,
  seedAuditLog,
  signWith,
  tamperAndRestore,
  toRow,
  verifyApi,
} from './support/audit-chain';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/** Every kind of tampering with the audit table is found by GET /audit/verify at the right seq. */
describe.each(testDialects())('audit log tampering (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await seedAuditLog(t);
  });
  afterAll(() => t?.close());

  const db = () => t.gateway.db;
  const rowAt = (seq: number) =>
    db()
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '=', seq as never)
      .executeTakeFirstOrThrow();
  const setSeq = (from: number, delta: number) =>
    sql`update audit_events set seq = seq + ${delta} where seq >= ${from}`.execute(db());
  const tampered = (tamper: () => Promise<unknown>) => tamperAndRestore(t, tamper, 6);

  test('an untouched chain verifies', async () => {
    expect(await verifyApi(t)).toEqual({ valid: true, checked: 6, first_invalid_seq: null });
  });

  const edits: [string, (seq2: any, seq3: any) => Record<string, unknown>][] = [
    ['type', () => ({ type: 'TENANT_DELETED' })],
    ['changes', () => ({ changes: JSON.stringify({ name: { from: null, to: 'Mallory' } }) })],
    ['created_at', (_, s3) => ({ created_at: new Date(Date.parse(s3.created_at) + 1000).toISOString() })],
    ['actor', () => ({ actor: JSON.stringify({ type: 'token', id: 'someone-else', name: 'not me' }) })],
    ['tenant_id', () => ({ tenant_id: 'beta' })],
    ['resource_id', () => ({ resource_id: 'delta' })],
    ['trace_id', () => ({ trace_id: 'req_forged' })],
    ['id', () => ({ id: 'evt_forged' })],
    ['prev_hash', () => ({ prev_hash: '0'.repeat(64) })],
    ['hash', (s2) => ({ hash: s2.hash })],
    ['signature', (s2) => ({ signature: s2.signature })],
  ];
  test.each(edits)('a changed %s in seq 3', async (_field, edit) => {
    const [s2, s3] = [await rowAt(2), await rowAt(3)];
    const result = await tampered(() =>
      db()
        .updateTable('audit_events')
        .set(edit(s2, s3) as never)
        .where('seq', '=', 3 as never)
        .execute(),
    );
    expect(result).toMatchObject({ valid: false, checked: 2, first_invalid_seq: 3 });
  });

  test.each([
    ['in the middle', 3, { checked: 2, first_invalid_seq: 3 }],
    ['first', 1, { checked: 0, first_invalid_seq: 1 }],
  ])('a row deleted %s is found at the missing seq', async (_where, seq, found) => {
    expect(
      await tampered(() =>
        db()
          .deleteFrom('audit_events')
          .where('seq', '=', seq as never)
          .execute(),
      ),
    ).toMatchObject({ valid: false, ...found });
  });

  test.each([
    ['the newest rows', 5, { checked: 4, first_invalid_seq: 5 }],
    ['every row', 1, { checked: 0, first_invalid_seq: 1 }],
  ])('%s deleted are found at the first missing seq, by the signed head', async (_what, from, found) => {
    expect(
      await tampered(() =>
        db()
          .deleteFrom('audit_events')
          .where('seq', '>=', from as never)
          .execute(),
      ),
    ).toMatchObject({ valid: false, ...found });
  });

  test('a head moved back without the key leaves the end of the chain unvouched for', async () => {
    const s5 = await rowAt(5);
    const rewound = async () => {
      await db()
        .deleteFrom('audit_events')
        .where('seq', '=', 6 as never)
        .execute();
      await db().updateTable('audit_head').set({ seq: 5, hash: s5.hash, signature: s5.signature }).execute(); // an event's signature is not a head's
    };
    expect(await tampered(rewound)).toMatchObject({ valid: false, checked: 5, first_invalid_seq: 6 });
  });

  test('a deleted head leaves the end of the chain unvouched for', async () => {
    expect(await tampered(() => db().deleteFrom('audit_head').execute())).toEqual({
      valid: false,
      checked: 6,
      first_invalid_seq: 7,
      reason: 'seq 7: the chain has no head',
    });
  });

  test('a chain from before the head gets one signed at start-up; an existing head is never rewritten', async () => {
    const head = await db().selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    await db().deleteFrom('audit_head').execute();
    await t.gateway.audit.ensureHead(db());
    expect(await db().selectFrom('audit_head').select(['seq', 'hash']).executeTakeFirstOrThrow()).toEqual({
      seq: head.seq,
      hash: head.hash,
    });
    expect(await verifyApi(t)).toEqual({ valid: true, checked: 6, first_invalid_seq: null });
    expect(
      await tampered(async () => {
        await db()
          .deleteFrom('audit_events')
          .where('seq', '=', 6 as never)
          .execute();
        await t.gateway.audit.ensureHead(db()); // the head still names seq 6
      }),
    ).toMatchObject({ valid: false, checked: 5, first_invalid_seq: 6 });
  });

  test('a row inserted in the middle (later seqs renumbered) is found at its seq, though correctly chained', async () => {
    const result = await tampered(async () => {
      const s2 = await rowAt(2);
      await setSeq(3, 1000); // two steps, so the primary key never clashes mid-update
      await setSeq(1003, -999);
      const forged = {
        id: 'evt_forged',
        seq: 3,
        created_at: new Date().toISOString(),
        type: 'TENANT_DELETED',
        actor: s2.actor,
        tenant_id: 'alpha',
        resource: { kind: 'tenant', id: 'alpha' },
        changes: null,
        trace_id: null,
        prev_hash: s2.hash,
      };
      const hash = hashOf(s2.hash, forged);
      await db()
        .insertInto('audit_events')
        .values(toRow({ ...forged, hash, signature: signWith(foreignKeys().privateKey, hash) }) as never)
        .execute();
    });
    expect(result).toMatchObject({ valid: false, checked: 2, first_invalid_seq: 3 });
  });

  test('a row appended after the end is found at its seq', async () => {
    const result = await tampered(async () => {
      const s6 = await rowAt(6);
      const forged = {
        ...(await exportAll(t))[0],
        id: 'evt_forged',
        seq: 7,
        type: 'TENANT_DELETED',
        prev_hash: s6.hash,
      };
      forged.hash = hashOf(s6.hash, forged);
      await db()
        .insertInto('audit_events')
        .values(toRow({ ...forged, signature: s6.signature }) as never)
        .execute();
    });
    expect(result).toMatchObject({ valid: false, checked: 6, first_invalid_seq: 7 });
  });

  test('rewriting history with every hash recomputed still fails on the signature of the first rewritten row', async () => {
    const result = await tampered(async () => {
      const events = (await exportAll(t)).reverse();
      events[2].type = 'TENANT_DELETED';
      for (let i = 2; i < events.length; i++) {
        events[i].prev_hash = events[i - 1].hash;
        events[i].hash = hashOf(events[i].prev_hash, events[i]);
        await db()
          .updateTable('audit_events')
          .set({ type: events[i].type, prev_hash: events[i].prev_hash, hash: events[i].hash })
          .where('seq', '=', events[i].seq)
          .execute();
      }
    });
    expect(result).toMatchObject({ valid: false, checked: 2, first_invalid_seq: 3 });
  });

  test('two rows swapped are found at the lower seq', async () => {
    const swap = [
      [3, 100],
      [4, 3],
      [100, 4],
    ].map(([from, to]) => sql`update audit_events set seq = ${to} where seq = ${from}`);
    const result = await tampered(async () => {
      for (const q of swap) await q.execute(db());
    });
    expect(result).toMatchObject({ valid: false, checked: 2, first_invalid_seq: 3 });
  });
});
