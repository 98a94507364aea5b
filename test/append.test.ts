import { sql } from 'kysely';
import { copyRows, type OpenDatabase } from '../server/store/database';
import { copySlices } from '../server/store/copy-text';
import { openTestDatabase, testDialects } from './support/databases';

test('COPY text: nulls as \\N, and backslash, tab, newline and carriage return escaped', () => {
  expect(
    copyRows(
      ['a', 'b', 'c'],
      [
        { a: 'x\ty', b: null, c: 3 },
        { a: 'back\\slash\nnew\rline', b: true, c: 1.5 },
      ],
    ),
  ).toBe('x\\ty\t\\N\t3\nback\\\\slash\\nnew\\rline\ttrue\t1.5\n');
});

test('COPY text of many rows comes in slices, with the event loop turning between them', async () => {
  const rows = Array.from({ length: 1001 }, (_, i) => ({ a: `row ${i}\t`, b: i % 3 ? i : null }));
  let turns = 0;
  const ticking = setInterval(() => (turns += 1), 0); // a timer only runs when the loop turns
  const slices: string[] = [];
  try {
    for await (const slice of copySlices(['a', 'b'], rows, 250)) slices.push(slice);
  } finally {
    clearInterval(ticking);
  }
  expect(slices).toHaveLength(5);
  expect(slices.join('')).toBe(copyRows(['a', 'b'], rows));
  expect(turns).toBeGreaterThan(0);
});

describe.each(testDialects())('append (%s)', (dialect) => {
  let database: OpenDatabase;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ database, close } = await openTestDatabase(dialect));
  });

  afterAll(() => close?.());

  test('rows arrive as they were, awkward text included; a column a row lacks is null', async () => {
    const awkward = 'tab\there, line\nbreak, cr\r, back\\slash, \\N literally, "quotes", ünïcödé 🚀';
    const rows = [
      {
        id: 'log_1',
        kind: 'http',
        method: 'GET',
        path: awkward,
        status: 200,
        latency_ms: 1.25,
        request_id: 'req_1',
        error_code: null,
        created_at: '2026-11-22T10:00:00.123Z',
      },
      {
        id: 'log_2',
        kind: 'llm',
        method: 'POST',
        path: '/v1/chat/completions',
        status: 502,
        latency_ms: 30,
        request_id: 'req_2',
        created_at: new Date('2026-11-22T10:00:01Z'),
        error_code: 'UPSTREAM_ERROR',
      },
    ];
    await database.append(
      'request_logs',
      ['id', 'kind', 'method', 'path', 'status', 'latency_ms', 'request_id', 'error_code', 'created_at'],
      rows,
    );
    const stored = await database.db.selectFrom('request_logs').selectAll().orderBy('id').execute();
    expect(
      stored.map((r) => [
        r.id,
        r.path,
        r.status,
        r.latency_ms,
        r.error_code,
        r.tenant_id,
        new Date(r.created_at).toISOString(),
      ]),
    ).toEqual([
      ['log_1', awkward, 200, 1.25, null, null, '2026-11-22T10:00:00.123Z'],
      ['log_2', '/v1/chat/completions', 502, 30, 'UPSTREAM_ERROR', null, '2026-11-22T10:00:01.000Z'],
    ]);
  });

  test('a batch of many slices arrives whole and in order', async () => {
    const rows = Array.from({ length: 1234 }, (_, i) => ({
      id: `log_many_${String(i).padStart(4, '0')}`,
      kind: 'http',
      method: 'GET',
      path: `/many/ünï\t${i}`,
      status: 200,
      latency_ms: i,
      request_id: `req_many_${i}`,
      created_at: new Date(),
    }));
    await database.append('request_logs', Object.keys(rows[0]!), rows);
    const stored = await database.db
      .selectFrom('request_logs')
      .select(['id', 'path'])
      .where('id', 'like', 'log_many_%')
      .orderBy('id')
      .execute();
    expect(stored).toEqual(rows.map(({ id, path }) => ({ id, path })));
  });

  test('a bad row fails the whole append and stores nothing of it', async () => {
    const before = Number(
      (await sql<{ n: number }>`select count(*) as n from request_logs`.execute(database.db)).rows[0]!.n,
    );
    const rows = [
      {
        id: 'log_3',
        kind: 'http',
        method: 'GET',
        path: '/a',
        status: 200,
        latency_ms: 1,
        request_id: 'req_3',
        created_at: '2026-11-22T10:00:02Z',
      },
      {
        id: 'log_4',
        kind: 'http',
        method: 'GET',
        path: '/b',
        status: 'not a number',
        latency_ms: 1,
        request_id: 'req_4',
        created_at: '2026-11-22T10:00:03Z',
      },
    ];
    await expect(
      database.append(
        'request_logs',
        ['id', 'kind', 'method', 'path', 'status', 'latency_ms', 'request_id', 'created_at'],
        rows,
      ),
    ).rejects.toThrow(/integer/);
    expect(
      Number((await sql<{ n: number }>`select count(*) as n from request_logs`.execute(database.db)).rows[0]!.n),
    ).toBe(before);
    // the connection is usable afterwards
    await database.append(
      'request_logs',
      ['id', 'kind', 'method', 'path', 'status', 'latency_ms', 'request_id', 'created_at'],
      [rows[0]!],
    );
    expect(
      await database.db.selectFrom('request_logs').select('id').where('id', '=', 'log_3').executeTakeFirst(),
    ).toEqual({ id: 'log_3' });
  });
});
