import { randomBytes } from 'node:crypto';
import pg from 'pg';
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

export interface AdminWritesResult {
  database: string;
  rounds: number;
  /** Operations per round and mode. */
  perRound: number;
  tenantSequential: Rate;
  tenantParallel: Rate;
  rawSequential: Rate;
  rawParallel: Rate;
  /** Keys per second through one bulk call of `bulkCount` keys. */
  bulkKeys: Rate;
  bulkCount: number;
  /** Statements the gateway sent to the database per tenant create (BEGIN and COMMIT included), sequential and 8-way. */
  statementsPerCreate: number;
  statementsPerCreateParallel: number;
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

async function post(base: string, path: string, body: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Admin writes with the signed audit chain against the floor: tenant creates over loopback HTTP (each one a
 * transaction with its chained, signed audit event), sequential and {@link WAYS}-way, beside raw single-row INSERTs
 * of a similar row into a similar table of the same cluster, sequential and as many ways, in interleaved rounds. Then
 * bulk key creation. Uses `PORTICO_BENCH_PG_URL` when set (an existing cluster), else a throwaway one.
 */
export async function adminWritesBench(
  rounds = 5,
  perRound = 300,
  log: (line: string) => void = () => {},
): Promise<AdminWritesResult> {
  if (SMOKE) [rounds, perRound] = [2, 40];
  const given = process.env.PORTICO_BENCH_PG_URL;
  const cluster = given ? undefined : await startPostgres();
  const clusterUrl = given ?? cluster?.url;
  if (!clusterUrl)
    throw new Error('the admin writes benchmark needs PostgreSQL (server binaries or PORTICO_BENCH_PG_URL)');
  const statements = countStatements();
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
  const raw = new pg.Pool({ connectionString: url.toString(), max: WAYS });
  try {
    const base = server.adminUrl!;
    await raw.query(
      'create table bench_raw (id text primary key, name text not null, data jsonb not null, created_at timestamptz not null default now())',
    );
    let rawStatements = 0;
    const rawInsert = async (id: string) => {
      rawStatements += 1;
      await raw.query('insert into bench_raw (id, name, data) values ($1, $2, $3)', [
        id,
        `Tenant ${id}`,
        JSON.stringify({ name: `Tenant ${id}`, status: 'ACTIVE', region: null, metadata: {} }),
      ]);
    };
    const tenant = (id: string) => post(base, '/v1/admin/tenants', { id, name: `Tenant ${id}` });
    // warm-up: the HTTP client, the server's routes and both pools' connections
    await timed(2 * WAYS, WAYS, (i) => tenant(`warm-${i}`));
    await timed(2 * WAYS, WAYS, (i) => rawInsert(`warm-${i}`));

    const samples = { ts: [] as number[], tp: [] as number[], rs: [] as number[], rp: [] as number[] };
    const perCreate: number[] = [];
    const perCreateParallel: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const before = statements.read() - rawStatements;
      samples.ts.push(await timed(perRound, 1, (i) => tenant(`s${r}-${i}`)));
      perCreate.push((statements.read() - rawStatements - before) / perRound);
      samples.rs.push(await timed(perRound, 1, (i) => rawInsert(`s${r}-${i}`)));
      const beforeParallel = statements.read() - rawStatements;
      samples.tp.push(await timed(perRound, WAYS, (i) => tenant(`p${r}-${i}`)));
      perCreateParallel.push((statements.read() - rawStatements - beforeParallel) / perRound);
      samples.rp.push(await timed(perRound, WAYS, (i) => rawInsert(`p${r}-${i}`)));
      log(
        `admin writes round ${r + 1}: tenants ${samples.ts[r]!.toFixed(0)}/s seq, ${samples.tp[r]!.toFixed(0)}/s ${WAYS}-way; ` +
          `raw ${samples.rs[r]!.toFixed(0)}/s seq, ${samples.rp[r]!.toFixed(0)}/s ${WAYS}-way`,
      );
    }

    const bulkCount = 1000;
    const bulk: number[] = [];
    await tenant('bulk-owner');
    try {
      for (let r = 0; r < rounds; r++) {
        const start = now();
        const out = await post(base, '/v1/admin/tenants/bulk-owner/keys/bulk', { count: bulkCount, name: `bulk ${r}` });
        if (out.data.length !== bulkCount) throw new Error(`bulk created ${out.data.length} keys`);
        bulk.push(bulkCount / (now() - start));
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
      database: given ? 'PostgreSQL (given cluster)' : 'PostgreSQL (throwaway cluster, fsync off)',
      rounds,
      perRound,
      tenantSequential: rate(samples.ts),
      tenantParallel: rate(samples.tp),
      rawSequential: rate(samples.rs),
      rawParallel: rate(samples.rp),
      bulkKeys: rate(bulk),
      bulkCount,
      statementsPerCreate: rate(perCreate).median,
      statementsPerCreateParallel: rate(perCreateParallel).median,
    };
  } finally {
    await raw.end();
    await server.close();
    cluster?.stop();
  }
}

const fmt = (r: Rate) => `${r.median.toFixed(0)} (${r.min.toFixed(0)}–${r.max.toFixed(0)})`;

/** The benchmark as report lines. */
export function renderAdminWrites(r: AdminWritesResult): string[] {
  return [
    '## Admin writes with the audit chain',
    '',
    `${r.database}, gateway in process, tenant creates posted over loopback HTTP; ${r.rounds} interleaved rounds of ` +
      `${r.perRound} operations per mode; per second, median (range).`,
    '',
    `| mode | tenant creates/s (signed audit chain) | raw single-row INSERTs/s | ratio |`,
    '|---|---|---|---|',
    `| sequential | ${fmt(r.tenantSequential)} | ${fmt(r.rawSequential)} | ${(r.tenantSequential.median / r.rawSequential.median).toFixed(2)}× |`,
    `| ${WAYS}-way | ${fmt(r.tenantParallel)} | ${fmt(r.rawParallel)} | ${(r.tenantParallel.median / r.rawParallel.median).toFixed(2)}× |`,
    '',
    `Statements per tenant create: ${r.statementsPerCreate.toFixed(1)} sequential, ` +
      `${r.statementsPerCreateParallel.toFixed(1)} ${WAYS}-way (BEGIN and COMMIT included, and the snapshot's read of ` +
      `the change it is told of). Target: tenant creates ≥ 0.5× the raw INSERTs.`,
    '',
    `Bulk keys: ${fmt(r.bulkKeys)} keys/s, ${r.bulkCount.toLocaleString('en')} per call ` +
      `(${(r.bulkKeys.median / r.rawSequential.median).toFixed(2)}× the sequential raw INSERTs).`,
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
