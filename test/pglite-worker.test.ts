import { readdirSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { isDataError } from '../server/store/database-errors';
import { openDatabase, type OpenDatabase } from '../server/store/database';
import { setupTenant, uniqueId } from './support/fixtures';
import { until, type TestGateway, startProxyBed, stopProxyBed, type TestDataPlane } from './support/gateway';
import type { MockHttp } from './support/mock-http';
import { testPgliteImage } from './support/pglite-image';

/** A class whose JSON is not its fields: what a structured clone would lose on the way to the worker. */
class Money {
  constructor(private readonly cents: number) {}
  toJSON() {
    return { amount: (this.cents / 100).toFixed(2) };
  }
}

describe('embedded PGlite in a worker thread', () => {
  let worker: OpenDatabase;
  let inProcess: OpenDatabase;

  beforeAll(async () => {
    const pgliteImage = testPgliteImage();
    [worker, inProcess] = await Promise.all([
      openDatabase({ dataDir: 'memory://', pgliteImage, pgliteThread: 'worker' }),
      openDatabase({ dataDir: 'memory://', pgliteImage, pgliteThread: 'main' }),
    ]);
    for (const { db } of [worker, inProcess]) {
      await sql`create table worker_probe (id int primary key, note text)`.execute(db);
    }
  });
  afterAll(async () => {
    await worker?.close();
    await inProcess?.close();
  });

  const linux = process.platform === 'linux' ? test : test.skip;
  linux("the database's thread runs 10 nice levels below the process, so requests get a core first", () => {
    const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    const base = niceOf(readFileSync('/proc/self/stat', 'utf8'));
    const threads = readdirSync('/proc/self/task').map((tid) =>
      niceOf(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')),
    );
    // one such thread here: the worker's (the in-process database runs on this thread, at the process's level)
    expect(threads.filter((nice) => nice === Math.min(19, base + 10))).toHaveLength(1);
    expect(threads.filter((nice) => nice !== base && nice !== Math.min(19, base + 10))).toEqual([]);
  });

  test('parameters and results round-trip as they do in process: dates, int8, JSON, bytes, nulls', async () => {
    const when = new Date('2026-01-02T03:04:05.678Z');
    const bytes = Buffer.from([0, 1, 127, 128, 255]);
    const query = sql<Record<string, unknown>>`select
      ${when}::timestamptz as at, 9007199254740993::int8 as huge, 42::int8 as small, 1.5::float8 as ratio,
      ${JSON.stringify({ list: [1, null, 'x'], nested: { ok: true } })}::jsonb as doc, ${new Money(1234)}::jsonb as money,
      ${bytes}::bytea as raw, ${null}::text as nothing, ${'tab\tand\nline'}::text as text, ${[1, 2, 3]}::int[] as ints`;
    const [fromWorker] = (await query.execute(worker.db)).rows;
    const [fromProcess] = (await query.execute(inProcess.db)).rows;
    expect(fromWorker).toEqual(fromProcess);
    expect(fromWorker).toMatchObject({
      huge: 9007199254740993n,
      small: 42,
      ratio: 1.5,
      doc: { list: [1, null, 'x'], nested: { ok: true } },
      money: { amount: '12.34' },
      nothing: null,
      text: 'tab\tand\nline',
      ints: [1, 2, 3],
    });
    expect(fromWorker!.at).toEqual(when);
    expect(Buffer.from(fromWorker!.raw as Uint8Array)).toEqual(bytes);
  });

  test('errors keep their PostgreSQL code and fields, so the error mapping still reads them', async () => {
    await worker.db
      .insertInto('worker_probe' as never)
      .values({ id: 1, note: 'first' } as never)
      .execute();
    const duplicate = await worker.db
      .insertInto('worker_probe' as never)
      .values({ id: 1, note: 'again' } as never)
      .execute()
      .catch((err: unknown) => err);
    expect(duplicate).toBeInstanceOf(Error);
    expect(duplicate).toMatchObject({ code: '23505', constraint: 'worker_probe_pkey', table: 'worker_probe' });
    expect(isDataError(duplicate)).toBe(true);
    await expect(sql`selec 1`.execute(worker.db)).rejects.toMatchObject({ code: '42601' });
  });

  test('a transaction holds the session: a query or COPY from outside waits for its end, and is not rolled back with it', async () => {
    let outside: Promise<unknown> | undefined;
    const rolledBack = worker.db.transaction().execute(async (tx) => {
      await sql`insert into worker_probe values (10, 'inside')`.execute(tx);
      // both sent while the transaction is open; they must neither see nor join it
      outside = Promise.all([
        sql`insert into worker_probe values (11, 'outside')`.execute(worker.db),
        worker.append('worker_probe', ['id', 'note'], [{ id: 12, note: 'copied' }]),
      ]);
      await sql`select pg_sleep(0.05)`.execute(tx);
      throw new Error('roll back');
    });
    await expect(rolledBack).rejects.toThrow('roll back');
    await outside;
    const { rows } = await sql<{ id: number }>`select id from worker_probe where id >= 10 order by id`.execute(
      worker.db,
    );
    expect(rows.map((r) => r.id)).toEqual([11, 12]);
  });

  test("the snapshot feed's reads go before admin work already waiting for the session", async () => {
    const order: string[] = [];
    await worker.db.transaction().execute(async (tx) => {
      const waiting = [
        sql`select 1`.execute(worker.db).then(() => order.push('admin')),
        sql`select 1`.execute(worker.feedDb).then(() => order.push('feed')),
      ];
      await sql`select pg_sleep(0.05)`.execute(tx);
      order.push('transaction');
      void Promise.all(waiting);
    });
    await until(() => order.length === 3);
    expect(order).toEqual(['transaction', 'feed', 'admin']);
  });

  test('notifications reach the listener once their transaction commits, and stop after unlisten', async () => {
    const heard: string[] = [];
    const unlisten = await worker.listen('worker_probe_channel', { onMessage: (p) => heard.push(p), onReset() {} });
    await worker.db.transaction().execute(async (tx) => {
      await sql`select pg_notify('worker_probe_channel', 'one')`.execute(tx);
      expect(heard).toEqual([]);
    });
    await until(() => heard.length === 1);
    await unlisten();
    await sql`select pg_notify('worker_probe_channel', 'two')`.execute(worker.db);
    await sql`select 1`.execute(worker.db);
    expect(heard).toEqual(['one']);
  });
});

describe('a gateway on embedded PGlite in a worker thread', () => {
  let t: TestGateway;
  let data: TestDataPlane;
  let backend: MockHttp;
  let backendUrl: string;

  beforeAll(
    async () =>
      ({ t, backend, backendUrl, data } = await startProxyBed(
        'pglite',
        { PORTICO_PGLITE_THREAD: 'worker' },
        { webhooks: false },
      )),
  );
  afterAll(() => stopProxyBed({ t, backend, data }));

  test('a long query in the database does not stall a proxied request: the answer comes first', async () => {
    const prefix = `/${uniqueId('slow-db')}`;
    const { key } = await setupTenant(t, {
      route: { path_prefix: prefix, methods: ['GET'], backend_url: backendUrl },
    });
    const call = () => fetch(`${data.url}${prefix}/ping`, { headers: { authorization: `Bearer ${key}` } });
    await until(async () => (await call()).status === 200);

    const finished: string[] = [];
    const sleep = sql`select pg_sleep(0.5)`.execute(t.gateway.db).then(() => finished.push('database'));
    // in the gateway's own thread PGlite would run the sleep to its end before this request could even be read
    const proxied = call().then(async (res) => {
      await res.arrayBuffer();
      finished.push(`proxy ${res.status}`);
    });
    await Promise.all([sleep, proxied]);
    expect(finished).toEqual(['proxy 200', 'database']);
  });
});
