import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

const run = promisify(execFile);
const MAIN = join(__dirname, '..');

/** The contract's formula written out here, independently of server/audit/chain.ts: SHA-256(prev_hash ‖ canonical JSON). */
const canonical = (v: any): string =>
  v === null || typeof v !== 'object'
    ? JSON.stringify(v ?? null)
    : Array.isArray(v)
      ? `[${v.map(canonical).join(',')}]`
      : `{${Object.keys(v).filter((k) => v[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
const hashOf = (prevHash: string, { prev_hash: _p, hash: _h, signature: _s, ...body }: any) => createHash('sha256').update(prevHash).update(canonical(body)).digest('hex');
const signWith = (key: KeyObject, hash: string) => sign(null, Buffer.from(hash), key).toString('base64');
const foreignKeys = () => generateKeyPairSync('ed25519');

/** Minimal RFC 4180 parser: quoted cells, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], cell = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\r' && text[i + 1] === '\n') rows.push([...row, cell]), (row = []), (cell = ''), i++;
    else cell += c;
  }
  return rows;
}

const ALPHA_NAME = 'Alpha, "the first"\nsecond line';

describe.each(testDialects())('audit log (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    // Six events: seq 1-3 TENANT_CREATED, 4 API_KEY_CREATED (alpha), 5 TENANT_UPDATED (beta), 6 API_KEY_CREATED (beta).
    const setup: [string, string, object][] = [
      ['POST', '/v1/admin/tenants', { id: 'alpha', name: ALPHA_NAME }], ['POST', '/v1/admin/tenants', { id: 'beta', name: 'Beta' }],
      ['POST', '/v1/admin/tenants', { id: 'gamma', name: 'Gamma' }], ['POST', '/v1/admin/tenants/alpha/keys', { name: 'a-key' }],
      ['PUT', '/v1/admin/tenants/beta', { name: 'Beta Renamed' }], ['POST', '/v1/admin/tenants/beta/keys', { name: 'b-key' }],
    ];
    for (const [method, url, body] of setup) expect((await t.api(method, url, body)).status).toBeLessThan(300);
  });
  afterAll(() => t?.close());

  const db = () => t.gateway.db;
  const verifyApi = async () => (await t.api('GET', '/v1/admin/audit/verify')).body;
  const rowAt = (seq: number) => db().selectFrom('audit_events').selectAll().where('seq', '=', seq as never).executeTakeFirstOrThrow();
  const exportAll = async () => (await t.api('GET', '/v1/admin/audit/events/export/json')).body as any[];
  const toRow = (e: any) => ({ seq: e.seq, id: e.id, created_at: e.created_at, type: e.type, actor: JSON.stringify(e.actor), tenant_id: e.tenant_id, resource_kind: e.resource?.kind ?? null, resource_id: e.resource?.id ?? null, changes: JSON.stringify(e.changes), trace_id: e.trace_id, prev_hash: e.prev_hash, hash: e.hash, signature: e.signature });
  const setSeq = (from: number, delta: number) => sql`update audit_events set seq = seq + ${delta} where seq >= ${from}`.execute(db());

  /** Runs `tamper` on the table, returns what verify says, then restores every row and checks the chain is whole again. */
  const tampered = async (tamper: () => Promise<unknown>) => {
    const saved = await exportAll();
    const head = await db().selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    await tamper();
    const result = await verifyApi();
    await db().deleteFrom('audit_events').execute();
    await db().insertInto('audit_events').values(saved.map(toRow) as never).execute();
    await db().deleteFrom('audit_head').execute();
    await db().insertInto('audit_head').values(head).execute();
    expect(await verifyApi()).toEqual({ valid: true, checked: 6, first_invalid_seq: null });
    return result;
  };

  describe('tampering is found by GET /audit/verify at the right seq', () => {
    test('an untouched chain verifies', async () => {
      expect(await verifyApi()).toEqual({ valid: true, checked: 6, first_invalid_seq: null });
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
      const result = await tampered(() => db().updateTable('audit_events').set(edit(s2, s3) as never).where('seq', '=', 3 as never).execute());
      expect(result).toEqual({ valid: false, checked: 2, first_invalid_seq: 3 });
    });

    test('a deleted row is found at the missing seq (middle and first)', async () => {
      expect(await tampered(() => db().deleteFrom('audit_events').where('seq', '=', 3 as never).execute())).toEqual({ valid: false, checked: 2, first_invalid_seq: 3 });
      expect(await tampered(() => db().deleteFrom('audit_events').where('seq', '=', 1 as never).execute())).toEqual({ valid: false, checked: 0, first_invalid_seq: 1 });
    });

    test('deleted newest rows are found at the first missing seq, by the signed head', async () => {
      expect(await tampered(() => db().deleteFrom('audit_events').where('seq', '>=', 5 as never).execute())).toEqual({ valid: false, checked: 4, first_invalid_seq: 5 });
      expect(await tampered(() => db().deleteFrom('audit_events').execute())).toEqual({ valid: false, checked: 0, first_invalid_seq: 1 });
    });

    test('a head moved back without the key, or deleted, leaves the end of the chain unvouched for', async () => {
      const s5 = await rowAt(5);
      const rewound = async () => {
        await db().deleteFrom('audit_events').where('seq', '=', 6 as never).execute();
        await db().updateTable('audit_head').set({ seq: 5, hash: s5.hash, signature: s5.signature }).execute(); // an event's signature is not a head's
      };
      expect(await tampered(rewound)).toEqual({ valid: false, checked: 5, first_invalid_seq: 6 });
      expect(await tampered(() => db().deleteFrom('audit_head').execute())).toEqual({ valid: false, checked: 6, first_invalid_seq: 7 });
    });

    test('a chain from before the head gets one signed at start-up; an existing head is never rewritten', async () => {
      const head = await db().selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
      await db().deleteFrom('audit_head').execute();
      await t.gateway.audit.ensureHead(db());
      expect(await db().selectFrom('audit_head').select(['seq', 'hash']).executeTakeFirstOrThrow()).toEqual({ seq: head.seq, hash: head.hash });
      expect(await verifyApi()).toEqual({ valid: true, checked: 6, first_invalid_seq: null });
      expect(await tampered(async () => {
        await db().deleteFrom('audit_events').where('seq', '=', 6 as never).execute();
        await t.gateway.audit.ensureHead(db()); // the head still names seq 6
      })).toEqual({ valid: false, checked: 5, first_invalid_seq: 6 });
    });

    test('a row inserted in the middle (later seqs renumbered) is found at its seq, though correctly chained', async () => {
      const result = await tampered(async () => {
        const s2 = await rowAt(2);
        await setSeq(3, 1000); // two steps, so the primary key never clashes mid-update
        await setSeq(1003, -999);
        const forged = { id: 'evt_forged', seq: 3, created_at: new Date().toISOString(), type: 'TENANT_DELETED', actor: s2.actor, tenant_id: 'alpha', resource: { kind: 'tenant', id: 'alpha' }, changes: null, trace_id: null, prev_hash: s2.hash };
        const hash = hashOf(s2.hash, forged);
        await db().insertInto('audit_events').values(toRow({ ...forged, hash, signature: signWith(foreignKeys().privateKey, hash) }) as never).execute();
      });
      expect(result).toEqual({ valid: false, checked: 2, first_invalid_seq: 3 });
    });

    test('a row appended after the end is found at its seq', async () => {
      const result = await tampered(async () => {
        const s6 = await rowAt(6);
        const forged = { ...(await exportAll())[0], id: 'evt_forged', seq: 7, type: 'TENANT_DELETED', prev_hash: s6.hash };
        forged.hash = hashOf(s6.hash, forged);
        await db().insertInto('audit_events').values(toRow({ ...forged, signature: s6.signature }) as never).execute();
      });
      expect(result).toEqual({ valid: false, checked: 6, first_invalid_seq: 7 });
    });

    test('rewriting history with every hash recomputed still fails on the signature of the first rewritten row', async () => {
      const result = await tampered(async () => {
        const events = (await exportAll()).reverse();
        events[2].type = 'TENANT_DELETED';
        for (let i = 2; i < events.length; i++) {
          events[i].prev_hash = events[i - 1].hash;
          events[i].hash = hashOf(events[i].prev_hash, events[i]);
          await db().updateTable('audit_events').set({ type: events[i].type, prev_hash: events[i].prev_hash, hash: events[i].hash }).where('seq', '=', events[i].seq).execute();
        }
      });
      expect(result).toEqual({ valid: false, checked: 2, first_invalid_seq: 3 });
    });

    test('two rows swapped are found at the lower seq', async () => {
      const swap = [[3, 100], [4, 3], [100, 4]].map(([from, to]) => sql`update audit_events set seq = ${to} where seq = ${from}`);
      const result = await tampered(async () => {
        for (const q of swap) await q.execute(db());
      });
      expect(result).toEqual({ valid: false, checked: 2, first_invalid_seq: 3 });
    });
  });

  /** The whole table is one chain: seqs 1..n, each prev_hash the hash before it, and verify agrees. */
  const expectOneChain = async () => {
    const rows = await db().selectFrom('audit_events').select(['seq', 'prev_hash', 'hash']).orderBy('seq').execute();
    expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i + 1));
    rows.forEach((r, i) => expect(r.prev_hash).toBe(i ? rows[i - 1]!.hash : '0'.repeat(64)));
    expect(await verifyApi()).toEqual({ valid: true, checked: rows.length, first_invalid_seq: null });
    return rows.length;
  };

  /** 50 mixed mutations, 5 of them racing for one tenant id: each 201 leaves exactly one event, each 409 none. */
  const concurrentWrites = async (prefix: string, post: (path: string, body: object) => Promise<{ status: number; body: any }>) => {
    const before = await expectOneChain();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i < 5 ? post('/v1/admin/tenants', { id: `${prefix}-dup`, name: 'race' }) : i % 2 ? post('/v1/admin/tenants/alpha/keys', { name: `${prefix}-${i}` }) : post('/v1/admin/tenants', { id: `${prefix}-${i}`, name: `T ${i}` }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(46);
    expect(statuses.filter((s) => s === 409)).toHaveLength(4);
    expect(await expectOneChain()).toBe(before + 46);
    const events = (await t.api('GET', `/v1/admin/audit/events?limit=46`)).body.data;
    const createdIds = results.filter((r) => r.status === 201).map((r) => r.body.id);
    expect(events.map((e: any) => e.resource.id).sort()).toEqual(createdIds.sort());
  };

  describe('concurrent mutations leave one unbroken chain', () => {
    test('50 in parallel through inject', () => concurrentWrites('inj', (path, body) => t.api('POST', path, body)));

    test('50 in parallel over a real socket', async () => {
      await t.admin.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(t.admin.server.address() as AddressInfo).port}`;
      await concurrentWrites('sock', async (path, body) => {
        const res = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${OWNER_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, body: await res.json() };
      });
    });
  });

  describe('listing with filters and paging', () => {
    const list = async (query: string) => {
      const res = await t.api('GET', `/v1/admin/audit/events?limit=500&${query}`);
      expect(res.status).toBe(200);
      return res.body.data.map((e: any) => e.seq) as number[];
    };
    const seqsWhere = (all: any[], keep: (e: any) => boolean) => all.filter(keep).map((e) => e.seq);

    test('tenant_id and type filter, alone and together, newest first', async () => {
      const all = await exportAll();
      expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => all.length - i));
      expect(await list('tenant_id=beta')).toEqual(seqsWhere(all, (e) => e.tenant_id === 'beta'));
      expect(await list('tenant_id=beta')).toEqual([6, 5, 2]);
      expect(await list('type=TENANT_UPDATED')).toEqual([5]);
      expect(await list('type=API_KEY_CREATED&tenant_id=alpha')).toEqual(seqsWhere(all, (e) => e.type === 'API_KEY_CREATED' && e.tenant_id === 'alpha'));
      expect(await list('tenant_id=nobody')).toEqual([]);
    });

    test('from/to are inclusive instants, any offset; a date-only to covers its whole day', async () => {
      const all = await exportAll();
      const mid = all[Math.floor(all.length / 2)].created_at as string;
      expect(await list(`from=${mid}`)).toEqual(seqsWhere(all, (e) => e.created_at >= mid));
      expect(await list(`to=${mid}`)).toEqual(seqsWhere(all, (e) => e.created_at <= mid));
      const plusTwo = new Date(Date.parse(mid) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
      expect(await list(`to=${encodeURIComponent(plusTwo)}`)).toEqual(seqsWhere(all, (e) => e.created_at <= mid));
      expect(await list(`from=${mid}&to=${mid}`)).toEqual(seqsWhere(all, (e) => e.created_at === mid));

      const day = all[all.length - 1].created_at.slice(0, 10);
      expect(await list(`to=${day}`)).toEqual(seqsWhere(all, (e) => e.created_at.slice(0, 10) <= day));
      expect(await list(`to=${day}`)).toContain(1);
      expect(await list(`to=${day}T00:00:00Z`)).toEqual(seqsWhere(all, (e) => e.created_at <= `${day}T00:00:00.000Z`));
      expect(await list(`from=${day}`)).toEqual(seqsWhere(all, (e) => e.created_at >= `${day}T00:00:00.000Z`));
      expect(await list('from=2999-01-01')).toEqual([]);
      expect(await list('to=2000-01-01')).toEqual([]);
    });

    test('limit and cursor page newest first with no duplicates or gaps', async () => {
      const all = (await exportAll()).map((e) => e.seq);
      const walk = async (query: string) => {
        const seen: number[] = [];
        let cursor: string | null = null;
        do {
          const page: any = (await t.api('GET', `/v1/admin/audit/events?limit=7&${query}${cursor ? `&cursor=${cursor}` : ''}`)).body;
          expect(page.data.length).toBeLessThanOrEqual(7);
          seen.push(...page.data.map((e: any) => e.seq));
          cursor = page.next_cursor;
        } while (cursor);
        return seen;
      };
      expect(await walk('')).toEqual(all);
      expect(await walk('tenant_id=alpha&type=API_KEY_CREATED')).toEqual(await list('tenant_id=alpha&type=API_KEY_CREATED'));
      expect((await t.api('GET', `/v1/admin/audit/events?limit=${all.length}`)).body.next_cursor).toBeNull();
    });

    test.each([
      ['limit=0', 'limit'], ['limit=501', 'limit'], ['limit=abc', 'limit'], ['limit=2.5', 'limit'],
      ['from=yesterday', 'from'], ['from=2024-13-45', 'from'], ['to=soon', 'to'], ['cursor=abc', 'cursor'],
      // not ISO-8601, though Date.parse takes them (as 2001-01-01 and year 20000, which as text sorts before "2…")
      ['from=1', 'from'], ['from=20000', 'from'], ['to=Tue%20Jan%2002%202024', 'to'],
    ])('%s is a 400 naming the parameter', async (query, path) => {
      const res = await t.api('GET', `/v1/admin/audit/events?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details[0].path).toBe(path);
    });
  });

  describe('exports', () => {
    test('CSV: header, one row per event, commas/quotes/newlines quoted', async () => {
      const names = ['bot, "v2"', 'line1\nline2']; // actor names are raw text cells: a comma and quotes, a bare newline
      for (const [i, name] of names.entries()) {
        const bot = (await t.api('POST', '/v1/admin/tokens', { name, role: 'owner' })).body;
        expect((await t.api('POST', '/v1/admin/tenants', { id: `csv-${i}`, name: 'C' }, bot.token)).status).toBe(201);
      }
      const res = await t.api('GET', '/v1/admin/audit/events/export');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expect(res.headers['content-disposition']).toContain('attachment');
      const [header, ...rows] = parseCsv(res.text);
      expect(header).toEqual(['id', 'seq', 'created_at', 'type', 'actor_type', 'actor_id', 'actor_name', 'tenant_id', 'resource_kind', 'resource_id', 'changes', 'trace_id', 'prev_hash', 'hash', 'signature']);
      const all = await exportAll();
      expect(rows).toHaveLength(all.length);
      rows.forEach((cells, i) => {
        const e = all[i];
        expect(cells).toEqual([e.id, String(e.seq), e.created_at, e.type, e.actor.type, e.actor.id, e.actor.name, e.tenant_id ?? '', e.resource?.kind ?? '', e.resource?.id ?? '', e.changes === null ? '' : expect.any(String), e.trace_id ?? '', e.prev_hash, e.hash, e.signature]);
        if (e.changes !== null) expect(JSON.parse(cells[10]!)).toEqual(e.changes);
      });
      const alphaRow = rows.find((r) => r[1] === '1')!;
      expect(JSON.parse(alphaRow[10]!)).toMatchObject({ name: { to: ALPHA_NAME } });
      expect(res.text).toContain('""Alpha, \\""the first\\""\\nsecond line""');
      expect([rows[2]![6], rows[0]![6]]).toEqual(names); // newest first: csv-1, its token, csv-0
      expect(res.text).toContain(',"bot, ""v2""",');
      expect(res.text).toContain(',"line1\nline2",');
      expect(parseCsv((await t.api('GET', '/v1/admin/audit/events/export?tenant_id=beta')).text).slice(1).map((r) => r[1])).toEqual(['6', '5', '2']);
    });

    test('CSV: a cell a spreadsheet would run as a formula starts with an apostrophe; the JSON export keeps it as it was', async () => {
      const formulas = ['=HYPERLINK("http://evil.example","x")', '+1+1', '-2+3', '@SUM(A1)'];
      for (const [i, name] of formulas.entries()) {
        const bot = (await t.api('POST', '/v1/admin/tokens', { name, role: 'owner' })).body;
        expect((await t.api('POST', '/v1/admin/tenants', { id: `formula-${i}`, name: 'F' }, bot.token)).status).toBe(201);
      }
      // newest first: each tenant, created by its bot, then the bot's token, created by the bootstrap owner
      const rows = parseCsv((await t.api('GET', '/v1/admin/audit/events/export')).text).slice(1);
      expect([0, 2, 4, 6].map((i) => rows[i]![6])).toEqual(formulas.map((f) => `'${f}`).reverse());
      const json = (await t.api('GET', '/v1/admin/audit/events/export/json')).body as { actor: { name: string } }[];
      expect([0, 2, 4, 6].map((i) => json[i]!.actor.name)).toEqual([...formulas].reverse());
    });

    test('JSON: the same events as the list, with hash and signature that check out by the contract formula', async () => {
      const res = await t.api('GET', '/v1/admin/audit/events/export/json');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const all = res.body as any[];
      expect(all).toEqual((await t.api('GET', '/v1/admin/audit/events?limit=500')).body.data);
      const key = createPublicKey((await t.api('GET', '/v1/admin/audit/public-key')).text);
      [...all].reverse().forEach((e, i, asc) => {
        expect(Object.keys(e).sort()).toEqual(['actor', 'changes', 'created_at', 'hash', 'id', 'prev_hash', 'resource', 'seq', 'signature', 'tenant_id', 'trace_id', 'type']);
        expect(e.prev_hash).toBe(i ? asc[i - 1].hash : '0'.repeat(64));
        expect(hashOf(e.prev_hash, e)).toBe(e.hash);
        expect(verify(null, Buffer.from(e.hash), key, Buffer.from(e.signature, 'base64'))).toBe(true);
      });
      expect((await t.api('GET', '/v1/admin/audit/events/export/json?type=TENANT_UPDATED')).body).toEqual([all.find((e) => e.seq === 5)]);
    });
  });

  test('the CLI verifies an export offline, and fails on a tampered file or the wrong key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-audit-'));
    const all = await exportAll();
    const write = (name: string, content: unknown) => (writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content)), join(dir, name));
    const pem = write('key.pem', (await t.api('GET', '/v1/admin/audit/public-key')).text);
    const other = write('other.pem', foreignKeys().publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const target = all[Math.floor(all.length / 3)];
    const cli = async (file: string, key: string, ...more: string[]) => {
      const out = await run('node', ['cli/portico.js', 'audit', 'verify', '--file', file, '--public-key', key, ...more], { cwd: MAIN }).then((r) => ({ code: 0, stdout: r.stdout }), (e) => ({ code: e.code as number, stdout: e.stdout as string }));
      return { code: out.code, result: JSON.parse(out.stdout) };
    };
    const filtered = (await t.api('GET', '/v1/admin/audit/events/export/json?tenant_id=beta')).body;
    const gap = all.filter((e) => e.seq !== target.seq);
    const [ok, tamperedType, wrongKey, partial, partialTampered, fullOk, fullGap, looseGap] = await Promise.all([
      cli(write('all.json', all), pem),
      cli(write('tampered.json', all.map((e) => (e.seq === target.seq ? { ...e, type: 'TENANT_DELETED' } : e))), pem),
      cli(join(dir, 'all.json'), other),
      cli(write('beta.json', filtered), pem),
      cli(write('beta-tampered.json', filtered.map((e: any) => (e.seq === 5 ? { ...e, changes: { name: { from: 'Beta', to: 'Mallory' } } } : e))), pem),
      cli(join(dir, 'all.json'), pem, '--full'),
      cli(write('gap.json', gap), pem, '--full'),
      cli(join(dir, 'gap.json'), pem),
    ]);
    // --full: the file is the whole chain, so an event taken out of it is found; without it, a gap reads as a filter
    expect(fullOk).toEqual({ code: 0, result: { valid: true, checked: all.length, first_invalid_seq: null } });
    expect(fullGap).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: target.seq } });
    expect(looseGap).toMatchObject({ code: 0, result: { valid: true } });
    expect(ok).toEqual({ code: 0, result: { valid: true, checked: all.length, first_invalid_seq: null } });
    expect(tamperedType).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: target.seq } });
    expect(wrongKey).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: 1 } });
    expect(partial).toEqual({ code: 0, result: { valid: true, checked: 3, first_invalid_seq: null } });
    expect(partialTampered).toMatchObject({ code: 1, result: { valid: false, first_invalid_seq: 5 } });
  });

  test('actor is the calling token and trace_id the x-request-id (or the generated request id)', async () => {
    const post = (id: string, headers: Record<string, string>, token = OWNER_TOKEN) =>
      t.admin.inject({ method: 'POST', url: '/v1/admin/tenants', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, payload: { id, name: id } });
    expect((await post('traced', { 'x-request-id': 'my-trace-1' })).statusCode).toBe(201);
    const latest = async () => (await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0];
    expect(await latest()).toMatchObject({ type: 'TENANT_CREATED', resource: { kind: 'tenant', id: 'traced' }, trace_id: 'my-trace-1', actor: { type: 'token', id: 'bootstrap', name: 'bootstrap owner token' } });

    const pat = (await t.api('POST', '/v1/admin/tokens', { name: 'ci-bot', role: 'owner' })).body;
    expect((await post('by-bot', {}, pat.token)).statusCode).toBe(201);
    const event = await latest();
    expect(event).toMatchObject({ resource: { id: 'by-bot' }, actor: { type: 'token', id: pat.id, name: 'ci-bot' } });
    expect(event.trace_id).toMatch(/^req_[0-9a-f-]{36}$/);
    await expectOneChain();
  });

  test('a tenant-scoped reader sees only its tenant, and may not verify the whole chain', async () => {
    const viewer = (await t.api('POST', '/v1/admin/tokens', { name: 'beta-viewer', role: 'viewer', tenant_id: 'beta' })).body.token;
    const seqs = async (url: string, token: string) => {
      const { body } = await t.api('GET', url, undefined, token);
      return (body.data ?? body).map((e: any) => e.seq);
    };
    const betaSeqs = await seqs('/v1/admin/audit/events?tenant_id=beta&limit=500', OWNER_TOKEN);
    expect(betaSeqs.slice(1)).toEqual([6, 5, 2]); // and first the TOKEN_CREATED of the viewer token, which belongs to beta
    expect(await seqs('/v1/admin/audit/events?limit=500', viewer)).toEqual(betaSeqs);
    expect(await seqs('/v1/admin/audit/events/export/json', viewer)).toEqual(betaSeqs);
    expect((await t.api('GET', '/v1/admin/audit/events?tenant_id=alpha', undefined, viewer)).status).toBe(403);
    expect((await t.api('GET', '/v1/admin/audit/verify', undefined, viewer)).status).toBe(403);
  });
});
