import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import { startServer } from '../server/app';
import { loadConfig } from '../server/config';
import type { DataPlane } from '../server/data/data-plane';
import { Spool } from '../server/data/spool';
import { adoptOrphanedSegments } from '../server/data/spool-adoption';
import type { Db } from '../server/store/schema';
import { createPostgresDatabase, testDialects } from './support/databases';
import { OWNER_TOKEN, startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { TcpProxy } from './support/tcp-proxy';

// Outages are played by a TCP proxy between the gateway and PostgreSQL (PGlite runs in-process: it cannot go away).
const postgres = testDialects().includes('postgres') ? describe : describe.skip;

/** Short bounds, so an outage shows within a test's time; one master key, since every gateway shares a database. */
const FAST = {
  PORTICO_DB_CONNECT_TIMEOUT_MS: '1000',
  PORTICO_DB_QUERY_TIMEOUT_MS: '1000',
  PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
};

/** `promise`, or a failure when it has not settled within `ms`: the gateway must answer, not hang. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)),
  );
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const countLogs = async (db: Db, path: string) =>
  Number(
    (await sql<{ n: number }>`select count(*) as n from request_logs where path like ${path + '%'}`.execute(db))
      .rows[0]!.n,
  );

/** `n` data-plane requests that no route serves: each is a request-log row all the same. */
async function traffic(url: string, path: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await (await fetch(`${url}${path}/${i}`)).arrayBuffer();
}

postgres('database faults (postgres behind a proxy)', () => {
  let pg: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let proxy: TcpProxy;

  beforeAll(async () => {
    pg = await createPostgresDatabase();
    const target = new URL(pg.url);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.up();
  });

  afterAll(async () => {
    await proxy.down();
    await pg.drop();
  });

  async function gateway(env: Record<string, string> = {}): Promise<TestGateway> {
    return startTestGateway('postgres', { DATABASE_URL: proxy.url(pg.url), ...FAST, ...env });
  }

  /** Brings the proxy back and waits until admin calls answer again. */
  async function recover(t: TestGateway): Promise<void> {
    await proxy.up();
    await until(async () => (await t.api('GET', '/v1/admin/tenants')).status === 200, 10_000);
  }

  test('PostgreSQL down: admin calls and readiness answer 503 DATABASE_UNAVAILABLE with Retry-After; back up: 200', async () => {
    const t = await gateway();
    try {
      expect((await t.api('GET', '/v1/admin/tenants')).status).toBe(200);
      await proxy.down();
      const list = await within(5000, t.api('GET', '/v1/admin/tenants'));
      expect(list.status).toBe(503);
      expect(list.body.error).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      expect(list.headers['retry-after']).toBe('5');
      const write = await within(
        5000,
        t.api('POST', '/v1/admin/tenants', { id: 'while-down', name: 'x', status: 'ACTIVE' }),
      );
      expect([write.status, write.body.error.code]).toEqual([503, 'DATABASE_UNAVAILABLE']);
      expect((await within(5000, t.api('GET', '/health/ready', undefined, null))).status).toBe(503);
      await recover(t);
      expect((await t.api('GET', '/health/ready', undefined, null)).status).toBe(200);
    } finally {
      await proxy.up();
      await t.close();
    }
  });

  test('PostgreSQL hung (connections accepted, nothing answered): 503 within the timeouts, never a hang', async () => {
    const t = await gateway();
    try {
      expect((await t.api('GET', '/v1/admin/tenants')).status).toBe(200);
      proxy.freeze();
      const [list, write, ready] = await within(
        8000,
        Promise.all([
          t.api('GET', '/v1/admin/tenants'),
          t.api('POST', '/v1/admin/tenants', { id: 'while-hung', name: 'x', status: 'ACTIVE' }),
          t.api('GET', '/health/ready', undefined, null),
        ]),
      );
      expect([list.status, list.body.error.code, list.headers['retry-after']]).toEqual([
        503,
        'DATABASE_UNAVAILABLE',
        '5',
      ]);
      expect([write.status, write.body.error.code]).toEqual([503, 'DATABASE_UNAVAILABLE']);
      expect(ready.status).toBe(503);
      await recover(t);
    } finally {
      await proxy.up();
      await t.close();
    }
  });

  test('records made while PostgreSQL is down wait in memory and all land once it is back', async () => {
    const t = await gateway();
    const data = await startDataPlane(t);
    const dp: DataPlane = data.app.dataPlane;
    try {
      await proxy.down();
      await traffic(data.url, '/outage-memory', 25);
      await dp.requestLogs.flush(); // a try that finds the database gone keeps the rows
      expect(dp.requestLogs.buffered).toBe(25);
      await recover(t);
      await until(async () => (await countLogs(t.gateway.db, '/outage-memory/')) === 25, 15_000);
      expect(dp.requestLogs.dropped).toEqual({ refused: 0, overflow: 0 });
    } finally {
      await proxy.up();
      await data.close();
      await t.close();
    }
  });

  test('beyond the memory buffer rows go to the spool under the data dir, drained after recovery', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portico-spool-'));
    const t = await gateway({ PORTICO_DATA_DIR: dir, PORTICO_BUFFER_MAX_ROWS: '5' });
    const data = await startDataPlane(t);
    const dp: DataPlane = data.app.dataPlane;
    try {
      await proxy.down();
      await traffic(data.url, '/outage-spool', 23);
      await dp.requestLogs.flush();
      expect(dp.requestLogs.buffered).toBeLessThanOrEqual(10); // 5, plus a batch that was being tried
      expect((await readdir(join(dir, 'spool'))).filter((f) => f.startsWith('request_logs.')).length).toBeGreaterThan(
        0,
      );
      await recover(t);
      await until(async () => (await countLogs(t.gateway.db, '/outage-spool/')) >= 23, 15_000);
      await until(async () => !(await readdir(join(dir, 'spool'))).some((f) => f.startsWith('request_logs.')), 10_000);
      expect(await countLogs(t.gateway.db, '/outage-spool/')).toBe(23);
      expect(dp.requestLogs.dropped).toEqual({ refused: 0, overflow: 0 });
    } finally {
      await proxy.up();
      await data.close();
      await t.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('with no spool (memory://) rows beyond the buffer are dropped and counted', async () => {
    const t = await gateway({ PORTICO_BUFFER_MAX_ROWS: '5' });
    const data = await startDataPlane(t);
    const dp: DataPlane = data.app.dataPlane;
    try {
      await proxy.down();
      await traffic(data.url, '/outage-drop', 12);
      const dropped = dp.requestLogs.dropped.overflow;
      // the buffer holds 5 (and at most one batch being tried meanwhile); the rest is dropped and counted
      expect(dropped).toBeGreaterThanOrEqual(12 - 5 - 5);
      expect(dp.droppedRecords()).toContainEqual(['request_logs', dropped]);
      await recover(t);
      await until(async () => (await countLogs(t.gateway.db, '/outage-drop/')) === 12 - dropped, 15_000);
    } finally {
      await proxy.up();
      await data.close();
      await t.close();
    }
  });

  test('a stop while PostgreSQL hangs ends within the grace, spools what is unwritten, and the next start writes it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portico-stop-'));
    const env = {
      ...FAST,
      DATABASE_URL: proxy.url(pg.url),
      PORTICO_DATA_DIR: dir,
      PORTICO_ADMIN_TOKEN: OWNER_TOKEN,
      PORTICO_ADMIN_PORT: '0',
      PORTICO_DATA_PORT: '0',
      PORTICO_SHUTDOWN_GRACE_MS: '3000',
    };
    const silent = pino({ level: 'silent' });
    const first = await startServer(loadConfig(env), silent);
    try {
      proxy.freeze();
      await traffic(first.dataUrl!, '/outage-stop', 15);
      await within(3000 + 1500, first.close());
      const spooled = (await readdir(join(dir, 'spool'))).filter((f) => f.startsWith('request_logs.'));
      const text = (await Promise.all(spooled.map((f) => readFile(join(dir, 'spool', f), 'utf8')))).join('');
      const paths = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).path);
      expect(paths.sort()).toEqual(Array.from({ length: 15 }, (_, i) => `/outage-stop/${i}`).sort());

      await proxy.down(); // ends the connections the stopped gateway left hanging
      await proxy.up();
      const second = await startServer(loadConfig(env), silent);
      try {
        await until(async () => (await countLogs(second.gateway.db, '/outage-stop/')) === 15, 15_000);
      } finally {
        await second.close();
      }
    } finally {
      await proxy.up();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each(testDialects())('spool left by a previous run (%s)', (dialect) => {
  test('is written to the database when the data plane starts, then removed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portico-left-'));
    try {
      const left = await Spool.open(join(dir, 'spool'), 1024 * 1024);
      const rows = Array.from({ length: 7 }, (_, i) => ({
        id: `log_left_${i}`,
        kind: 'http',
        method: 'GET',
        path: `/left/${i}`,
        status: 200,
        latency_ms: 1,
        request_id: `req_left_${i}`,
        created_at: new Date().toISOString(),
      }));
      expect(await left.write('request_logs', rows, 3)).toBe(true);
      const t = await startTestGateway(dialect);
      t.gateway.spool = await Spool.open(join(dir, 'spool'), 1024 * 1024); // as a start with PORTICO_DATA_DIR=dir opens it
      const data = await startDataPlane(t);
      try {
        await until(async () => (await countLogs(t.gateway.db, '/left/')) === 7, 10_000);
        expect(await readdir(join(dir, 'spool'))).toEqual([]);
      } finally {
        await data.close();
        await t.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('segments of an earlier worker layout are taken over by the process that now serves the data plane', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portico-layout-'));
    const rows = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({
        id: `log_layout_${from + i}`,
        kind: 'http',
        method: 'GET',
        path: `/layout/${from + i}`,
        status: 200,
        latency_ms: 1,
        request_id: `req_layout_${from + i}`,
        created_at: new Date().toISOString(),
      }));
    try {
      // a node that ran three workers, restarted as one process
      for (const [worker, from] of [
        [1, 0],
        [3, 10],
      ] as const) {
        const left = await Spool.open(join(dir, 'spool', `worker-${worker}`), 1024 * 1024);
        expect(await left.write('request_logs', rows(from, 5), 2)).toBe(true);
      }
      const t = await startTestGateway(dialect, { PORTICO_DATA_DIR: dir });
      const data = await startDataPlane(t);
      try {
        await until(async () => (await countLogs(t.gateway.db, '/layout/')) === 10, 10_000);
        for (const worker of [1, 3]) expect(await readdir(join(dir, 'spool', `worker-${worker}`))).toEqual([]);
      } finally {
        await data.close();
        await t.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('adopting spool segments (files only)', () => {
  const segment = (row: number) => [{ row }];
  const names = async (path: string) => (await readdir(path)).sort();

  test('worker 1 takes the top level and the workers beyond the count, after its own, each in its order', async () => {
    const root = join(await mkdtemp(join(tmpdir(), 'portico-adopt-')), 'spool');
    try {
      const open = (sub: string) => Spool.open(sub ? join(root, sub) : root, 1 << 20);
      const [top, w1, w2, w3] = await Promise.all([open(''), open('worker-1'), open('worker-2'), open('worker-3')]);
      for (const [spool, rows] of [
        [w1, [1, 2]],
        [top, [3, 4]],
        [w2, [5]],
        [w3, [6, 7]],
      ] as const)
        expect(await spool.write('request_logs', rows.flatMap(segment), 1)).toBe(true);
      expect(await adoptOrphanedSegments(join(root, 'worker-2'), 2)).toBe(0); // only worker 1 adopts
      expect(await adoptOrphanedSegments(join(root, 'worker-1'), 2)).toBe(4); // the top level's 2, worker 3's 2
      const adopted = await open('worker-1');
      const order: unknown[] = [];
      for (let name = adopted.oldest('request_logs'); name; name = adopted.oldest('request_logs')) {
        order.push(...(await adopted.read(name)).map((r) => r.row));
        await adopted.remove(name);
      }
      expect(order).toEqual([1, 2, 3, 4, 6, 7]);
      expect(await names(join(root, 'worker-2'))).toHaveLength(1); // worker 2 still runs: its own are its own
      expect((await names(root)).filter((n) => n.endsWith('.ndjson'))).toEqual([]);
      expect(await names(join(root, 'worker-3'))).toEqual([]);
      // one process again: it takes every worker's
      expect(await adoptOrphanedSegments(root, 1)).toBe(1);
      expect(await names(join(root, 'worker-2'))).toEqual([]);
    } finally {
      await rm(dirname(root), { recursive: true, force: true });
    }
  });
});
