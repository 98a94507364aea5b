import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import Fastify from 'fastify';
import pino from 'pino';
import { startServer } from '../server/app';
import { loadConfig } from '../server/config';
import { startPostgres } from './postgres';

const TOKEN = 'bench-owner-token-0123456789';
/** `PORTICO_BENCH_SMOKE=1`: two short rounds, to try the code, not to read the figures. */
const SMOKE = process.env.PORTICO_BENCH_SMOKE === '1';
const WAYS = 8;

/** One measured figure over the rounds: the median and the range, in operations per second. */
export interface Rate {
  median: number;
  min: number;
  max: number;
}

/** One cluster's figures. */
export interface ClusterWrites {
  database: string;
  tenantSequential: Rate;
  tenantParallel: Rate;
  /** Updates of the tenants just created (a new name each): a read, then one statement riding on the audit append. */
  updateSequential: Rate;
  updateParallel: Rate;
  /** The same INSERT as the raw one behind a bare Fastify route, posted by the same HTTP client: what HTTP costs. */
  floorSequential: Rate;
  floorParallel: Rate;
  rawSequential: Rate;
  rawParallel: Rate;
  /** Keys per second through one bulk call of `bulkCount` keys. */
  bulkKeys: Rate;
  /** Statements the gateway sent to the database per tenant create (BEGIN and COMMIT included), sequential and 8-way. */
  statementsPerCreate: number;
  statementsPerCreateParallel: number;
  statementsPerUpdate: number;
}

export interface AdminWritesResult {
  rounds: number;
  /** Operations per round and mode. */
  perRound: number;
  bulkCount: number;
  clusters: ClusterWrites[];
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

function rate(samples: number[]): Rate {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Runs `count` operations, `ways` at a time, and returns operations per second. */
async function timed(count: number, ways: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: ways }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return count / (now() - start);
}

/**
 * Counts the statements every pg client of this process sends: the gateway runs in process, so this is its traffic
 * to the database (the raw inserts go through their own pool, counted apart and subtracted by the caller).
 */
function countStatements(): { read(): number } {
  let count = 0;
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    count += 1;
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
  return { read: () => count };
}

async function send(method: 'POST' | 'PUT', base: string, path: string, body: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== (method === 'POST' ? 201 : 200)) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}
const post = (base: string, path: string, body: unknown) => send('POST', base, path, body);

const BULK_COUNT = 1000;
const rawRow = (id: string) => [
  id,
  `Tenant ${id}`,
  JSON.stringify({ name: `Tenant ${id}`, status: 'ACTIVE', region: null, metadata: {} }),
];
const createRawTable = (table: string) =>
  `create table ${table} (id text primary key, name text not null, data jsonb not null, created_at timestamptz not null default now())`;

/** The HTTP floor: a bare Fastify route doing the raw INSERT, in this process as the gateway is. */
async function startFloor(pool: pg.Pool): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  app.post('/floor', async (req, reply) => {
    const { id } = req.body as { id: string };
    await pool.query('insert into bench_floor (id, name, data) values ($1, $2, $3)', rawRow(id));
    reply.code(201);
    return { id, name: `Tenant ${id}` };
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/**
 * Admin writes with the signed audit chain against two floors: tenant creates over loopback HTTP (each one a
 * transaction with its chained, signed audit event), the same client posting to a bare Fastify route that does one
 * INSERT (what HTTP alone costs), and raw single-row INSERTs of a similar row into a similar table of the same
 * cluster; sequential and {@link WAYS}-way, in interleaved rounds. Then bulk key creation. On two throwaway clusters
 * in turn, a durable one (PostgreSQL's defaults: every commit waits for its WAL on disk, as in production) and one with
 * fsync and synchronous commit off (every write is CPU and round trips alone), or on `PORTICO_BENCH_PG_URL` when set.
 */
export async function adminWritesBench(
  rounds = 5,
  perRound = 300,
  log: (line: string) => void = () => {},
): Promise<AdminWritesResult> {
  if (SMOKE) [rounds, perRound] = [2, 40];
  const statements = countStatements();
  const given = process.env.PORTICO_BENCH_PG_URL;
  const clusters: ClusterWrites[] = [];
  if (given) clusters.push(await onCluster(given, 'PostgreSQL (given cluster)', rounds, perRound, statements, log));
  else
    for (const durable of [true, false]) {
      const cluster = await startPostgres({ durable });
      if (!cluster)
        throw new Error('the admin writes benchmark needs PostgreSQL (server binaries or PORTICO_BENCH_PG_URL)');
      const database = durable ? 'durable (PostgreSQL defaults)' : 'fsync and synchronous commit off';
      try {
        clusters.push(await onCluster(cluster.url, database, rounds, perRound, statements, log));
      } finally {
        cluster.stop();
      }
    }
  return { rounds, perRound, bulkCount: BULK_COUNT, clusters };
}

async function onCluster(
  clusterUrl: string,
  database: string,
  rounds: number,
  perRound: number,
  statements: { read(): number },
  log: (line: string) => void,
): Promise<ClusterWrites> {
  const name = `portico_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: clusterUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(clusterUrl);
  url.pathname = `/${name}`;
  const server = await startServer(
    loadConfig({
      DATABASE_URL: url.toString(),
      PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
      PORTICO_ADMIN_TOKEN: TOKEN,
      PORTICO_ADMIN_PORT: '0',
      PORTICO_DATA_PORT: '0',
      PORTICO_ROLE: 'control',
      PORTICO_ADMIN_RATE_LIMIT: '0',
    }),
    pino({ level: 'silent' }),
    { webhooks: false },
  );
  // the raw inserts and the floor's go through their own pools, counted apart and left out of the gateway's count
  let rawStatements = 0;
  const raw = new pg.Pool({ connectionString: url.toString(), max: WAYS });
  const floorPool = new pg.Pool({ connectionString: url.toString(), max: WAYS });
  let floor: Awaited<ReturnType<typeof startFloor>> | undefined;
  try {
    const base = server.adminUrl!;
    await raw.query(createRawTable('bench_raw'));
    await raw.query(createRawTable('bench_floor'));
    floor = await startFloor(floorPool);
    const floorUrl = floor.url;
    const rawInsert = async (id: string) => {
      rawStatements += 1;
      await raw.query('insert into bench_raw (id, name, data) values ($1, $2, $3)', rawRow(id));
    };
    const floorInsert = async (id: string) => {
      rawStatements += 1;
      await post(floorUrl, '/floor', { id, name: `Tenant ${id}` });
    };
    const tenant = (id: string) => post(base, '/v1/admin/tenants', { id, name: `Tenant ${id}` });
    const rename = (id: string) => send('PUT', base, `/v1/admin/tenants/${id}`, { name: `Renamed ${id}` });
    const gatewayStatements = () => statements.read() - rawStatements;
    // warm-up: the HTTP client, the servers' routes and every pool's connections
    await timed(2 * WAYS, WAYS, (i) => tenant(`warm-${i}`));
    await timed(2 * WAYS, WAYS, (i) => floorInsert(`warm-${i}`));
    await timed(2 * WAYS, WAYS, (i) => rawInsert(`warm-${i}`));

    const s = { ts: [] as number[], tp: [] as number[], fs: [] as number[], fp: [] as number[] };
    const u = { us: [] as number[], up: [] as number[] };
    const perUpdate: number[] = [];
    const r = { rs: [] as number[], rp: [] as number[] };
    const perCreate: number[] = [];
    const perCreateParallel: number[] = [];
    for (let k = 0; k < rounds; k++) {
      const before = gatewayStatements();
      s.ts.push(await timed(perRound, 1, (i) => tenant(`s${k}-${i}`)));
      perCreate.push((gatewayStatements() - before) / perRound);
      const beforeUpdates = gatewayStatements();
      u.us.push(await timed(perRound, 1, (i) => rename(`s${k}-${i}`)));
      perUpdate.push((gatewayStatements() - beforeUpdates) / perRound);
      s.fs.push(await timed(perRound, 1, (i) => floorInsert(`s${k}-${i}`)));
      r.rs.push(await timed(perRound, 1, (i) => rawInsert(`s${k}-${i}`)));
      const beforeParallel = gatewayStatements();
      s.tp.push(await timed(perRound, WAYS, (i) => tenant(`p${k}-${i}`)));
      perCreateParallel.push((gatewayStatements() - beforeParallel) / perRound);
      u.up.push(await timed(perRound, WAYS, (i) => rename(`p${k}-${i}`)));
      s.fp.push(await timed(perRound, WAYS, (i) => floorInsert(`p${k}-${i}`)));
      r.rp.push(await timed(perRound, WAYS, (i) => rawInsert(`p${k}-${i}`)));
      const f = (v: number[]) => v[k]!.toFixed(0);
      log(
        `admin writes (${database}) round ${k + 1}: tenants ${f(s.ts)}/s seq, ${f(s.tp)}/s ${WAYS}-way; ` +
          `updates ${f(u.us)}/s seq, ${f(u.up)}/s; ` +
          `floor ${f(s.fs)}/s seq, ${f(s.fp)}/s; raw ${f(r.rs)}/s seq, ${f(r.rp)}/s`,
      );
    }

    const bulk: number[] = [];
    await tenant('bulk-owner');
    try {
      for (let k = 0; k < rounds; k++) {
        const start = now();
        const out = await post(base, '/v1/admin/tenants/bulk-owner/keys/bulk', {
          count: BULK_COUNT,
          name: `bulk ${k}`,
        });
        if (out.data.length !== BULK_COUNT) throw new Error(`bulk created ${out.data.length} keys`);
        bulk.push(BULK_COUNT / (now() - start));
      }
    } catch (err) {
      log(`bulk keys: ${String(err)}`); // a build without the bulk route (a baseline checkout): that row reads 0
      bulk.push(0);
    }
    const verified = (await (
      await fetch(`${base}/v1/admin/audit/verify`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { valid: boolean };
    if (!verified.valid) throw new Error('the audit chain does not verify after the benchmark');

    return {
      database,
      tenantSequential: rate(s.ts),
      tenantParallel: rate(s.tp),
      updateSequential: rate(u.us),
      updateParallel: rate(u.up),
      floorSequential: rate(s.fs),
      floorParallel: rate(s.fp),
      rawSequential: rate(r.rs),
      rawParallel: rate(r.rp),
      bulkKeys: rate(bulk),
      statementsPerCreate: rate(perCreate).median,
      statementsPerCreateParallel: rate(perCreateParallel).median,
      statementsPerUpdate: rate(perUpdate).median,
    };
  } finally {
    await floor?.close();
    await floorPool.end();
    await raw.end();
    await server.close();
  }
}

const fmt = (r: Rate) => `${r.median.toFixed(0)} (${r.min.toFixed(0)}–${r.max.toFixed(0)})`;
const ratio = (a: Rate, b: Rate) => `${(a.median / b.median).toFixed(2)}×`;

/** The target's verdict, beside what the HTTP floor says of it. */
function verdict(r: AdminWritesResult): string {
  const x = (a: Rate, b: Rate) => a.median / b.median;
  const each = (f: (c: ClusterWrites) => string) => r.clusters.map((c) => `${c.database}: ${f(c)}`).join('; ');
  const met = r.clusters.every(
    (c) => x(c.tenantSequential, c.rawSequential) >= 0.5 && x(c.tenantParallel, c.rawParallel) >= 0.5,
  );
  const floorBelow = r.clusters.every(
    (c) => x(c.floorSequential, c.rawSequential) < 0.5 && x(c.floorParallel, c.rawParallel) < 0.5,
  );
  const two = (a: Rate, b: Rate, c: Rate, d: Rate) =>
    `${x(a, b).toFixed(2)}× sequential, ${x(c, d).toFixed(2)}× ${WAYS}-way`;
  return (
    `Target (issue 19, item 6): tenant creates ≥ 0.5× the raw INSERTs: ${met ? 'met' : 'missed'} (` +
    each((c) => two(c.tenantSequential, c.rawSequential, c.tenantParallel, c.rawParallel)) +
    `). The HTTP floor, the same INSERT behind a bare Fastify route posted by the same client, reaches ` +
    each((c) => two(c.floorSequential, c.rawSequential, c.floorParallel, c.rawParallel)) +
    ` of the raw INSERTs` +
    (floorBelow
      ? `: what one HTTP request costs here (the client's and the server's socket calls, parsing, a turn of each ` +
        `event loop) outweighs a single-row INSERT, so no write path behind HTTP reaches half of raw on this machine`
      : '') +
    `. Against that floor, tenant creates run at ` +
    each((c) => two(c.tenantSequential, c.floorSequential, c.tenantParallel, c.floorParallel)) +
    `, tenant updates at ` +
    each((c) => two(c.updateSequential, c.floorSequential, c.updateParallel, c.floorParallel)) +
    '.'
  );
}

/** The benchmark as report lines. */
export function renderAdminWrites(r: AdminWritesResult): string[] {
  const rows = r.clusters.flatMap((c) => [
    `| ${c.database} | sequential | ${fmt(c.tenantSequential)} | ${fmt(c.updateSequential)} | ` +
      `${fmt(c.floorSequential)} | ${fmt(c.rawSequential)} | ${ratio(c.tenantSequential, c.rawSequential)} | ` +
      `${ratio(c.updateSequential, c.rawSequential)} | ${ratio(c.tenantSequential, c.floorSequential)} | ` +
      `${ratio(c.floorSequential, c.rawSequential)} |`,
    `| ${c.database} | ${WAYS}-way | ${fmt(c.tenantParallel)} | ${fmt(c.updateParallel)} | ${fmt(c.floorParallel)} | ` +
      `${fmt(c.rawParallel)} | ${ratio(c.tenantParallel, c.rawParallel)} | ${ratio(c.updateParallel, c.rawParallel)} | ` +
      `${ratio(c.tenantParallel, c.floorParallel)} | ${ratio(c.floorParallel, c.rawParallel)} |`,
  ]);
  const perCluster = r.clusters.map(
    (c) =>
      `- ${c.database}: ${c.statementsPerCreate.toFixed(1)} statements per tenant create sequential, ` +
      `${c.statementsPerCreateParallel.toFixed(1)} ${WAYS}-way (the snapshot's read of the change it is told of ` +
      `included, and BEGIN and COMMIT where sent: a tenant create is one statement, its INSERT riding on the audit ` +
      `append, and creates at once share one (group commit), unless another writer moved the chain's head); ` +
      `${c.statementsPerUpdate.toFixed(1)} per tenant update sequential (its read, then its UPDATE riding on the ` +
      `append where the tenant is still as read); ` +
      `bulk keys ${fmt(c.bulkKeys)} keys/s, ${r.bulkCount.toLocaleString('en')} per ` +
      `call (${ratio(c.bulkKeys, c.rawSequential)} the sequential raw INSERTs).`,
  );
  return [
    '## Admin writes with the audit chain',
    '',
    `Gateway in process (PostgreSQL, role control), tenant creates posted over loopback HTTP, then each of those ` +
      `tenants renamed (PUT); the HTTP floor is the ` +
      `same client posting to a bare Fastify route in the same process that runs the raw INSERT; raw INSERTs are ` +
      `single-row INSERTs of a similar row into a similar table of the same database through pg. ${r.rounds} ` +
      `interleaved rounds of ${r.perRound} operations per mode; per second, median (range). Measured ` +
      `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ` +
      `${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()[0]!.toFixed(1)} before the run.`,
    '',
    '| cluster | mode | tenant creates/s (signed audit chain) | tenant updates/s | HTTP floor/s (Fastify + the INSERT) | raw INSERTs/s | creates ÷ raw | updates ÷ raw | creates ÷ floor | floor ÷ raw |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...perCluster,
    '',
    verdict(r),
  ];
}

if (require.main === module) {
  adminWritesBench(Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 300), (l) =>
    process.stderr.write(`${l}\n`),
  ).then(
    (r) => process.stdout.write(renderAdminWrites(r).join('\n') + '\n'),
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
