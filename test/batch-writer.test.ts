import pino from 'pino';
import { BatchWriter } from '../server/data/batch-writer';
import type { OpenDatabase } from '../server/store/database';
import { openTestDatabase, testDialects } from './support/databases';

describe.each(testDialects())('batch writer (%s)', (dialect) => {
  let database: OpenDatabase;
  let close: (() => Promise<void>) | undefined;
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });

  beforeAll(async () => {
    ({ database, close } = await openTestDatabase(dialect));
  });

  afterAll(() => close?.());

  const row = (path: string) => ({
    kind: 'http' as const,
    method: 'GET',
    path,
    status: 200,
    latency_ms: 1,
    request_id: `req_${path}`,
    created_at: new Date().toISOString(),
  });

  test('a row the database refuses is dropped and logged alone; every other row of its batch lands', async () => {
    const writer = new BatchWriter(database.append, log, 'request_logs', 'log_');
    const paths = Array.from({ length: 37 }, (_, i) => `/good/${i}`);
    // a NUL is refused by PostgreSQL in any text column (SQLSTATE 22021), here in the middle of a batch
    paths.splice(20, 0, '/bad/secret-value-\u0000');
    for (const p of paths) writer.add(row(p));
    await writer.flush();

    const stored = await database.db
      .selectFrom('request_logs')
      .select('path')
      .where('path', 'like', '/good/%')
      .execute();
    expect(stored.map((r) => r.path).sort()).toEqual(paths.filter((p) => p.startsWith('/good/')).sort());
    expect(writer.dropped).toEqual({ refused: 1, overflow: 0 });
    const refused = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'record refused by the database; dropped');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ table: 'request_logs', code: '22021' });
    expect(lines.join('\n')).not.toContain('secret-value');
  });

  test('rows that arrive while a batch is written wait for the next interval: one COPY per interval, not per trickle', async () => {
    let appends = 0;
    const counted: typeof database.append = (table, columns, rows) => {
      appends++;
      return database.append(table, columns, rows);
    };
    const writer = new BatchWriter(counted, log, 'request_logs', 'log_', { intervalMs: 200 });
    // a steady trickle, a row every 2 ms or so: a second or more, however loaded the machine is
    const started = Date.now();
    for (let i = 0; i < 500; i++) {
      writer.add(row(`/trickle/${i}`));
      await new Promise((r) => setTimeout(r, 2));
    }
    const intervals = Math.ceil((Date.now() - started) / 200);
    await writer.flush();
    expect(
      await database.db.selectFrom('request_logs').select('path').where('path', 'like', '/trickle/%').execute(),
    ).toHaveLength(500);
    // writing each arrival at once would take a COPY every few rows; one per interval (and the final flush) is the rule.
    // (PGlite's COPY runs in-process and blocks arrivals meanwhile, so the PostgreSQL run is the one that tells.)
    expect(appends).toBeLessThanOrEqual(intervals + 2);
  });

  test('a batch of good rows after a refused one is written whole', async () => {
    const writer = new BatchWriter(database.append, log, 'request_logs', 'log_');
    writer.add(row('/bad/\u0000'));
    await writer.flush();
    for (let i = 0; i < 5; i++) writer.add(row(`/after/${i}`));
    await writer.flush();
    expect(
      await database.db.selectFrom('request_logs').select('path').where('path', 'like', '/after/%').execute(),
    ).toHaveLength(5);
    expect(writer.dropped.refused).toBe(1);
  });
});
