import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { startServer } from '../server/app';
import { loadConfig } from '../server/config';
import { startPostgres } from './postgres';

const TOKEN = 'bench-owner-token-0123456789';

export interface ImportBenchResult {
  entities: number;
  database: string;
  /** One transaction of multi-row INSERTs (1,000 rows each) of the rows the import stored. */
  rawInsertSeconds: number;
  /** `POST /v1/admin/config/import` of the whole document into an empty gateway: one atomic apply. */
  importSeconds: number;
  /** `portico plan` of the same document against the unchanged gateway, process start included. */
  planSeconds: number;
  /** The dry run request alone (what `portico plan` waits for). */
  dryRunSeconds: number;
}

/**
 * A fleet of exactly `count` entities: a third tenant routes, a third tenant budgets, the rest tenants (10,000 is
 * 3,334 tenants, 3,333 of them with a route and a budget).
 */
export function fleetDocument(count: number): Record<string, unknown[]> {
  const n = Math.floor(count / 3);
  const tenantIds = Array.from({ length: count - 2 * n }, (_, i) => `t-${String(i).padStart(5, '0')}`);
  const ids = tenantIds.slice(0, n);
  return {
    tenants: tenantIds.map((id) => ({ id, name: `Tenant ${id}`, metadata: { team: id } })),
    routes: ids.map((id) => ({
      id: `${id}-api`,
      tenant_id: id,
      path_prefix: `/${id}`,
      backend_url: 'https://api.example.com',
    })),
    budgets: ids.map((id) => ({ id: `${id}-monthly`, tenant_id: id, limit_usd: 100 })),
  };
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/** A new database on the cluster, its URL. */
async function createDatabase(url: string): Promise<string> {
  const name = `portico_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function gatewayOn(databaseUrl: string) {
  return startServer(
    loadConfig({
      DATABASE_URL: databaseUrl,
      PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
      PORTICO_ADMIN_TOKEN: TOKEN,
      PORTICO_ADMIN_PORT: '0',
      PORTICO_DATA_PORT: '0',
      PORTICO_ROLE: 'control',
    }),
    pino({ level: 'silent' }),
    { webhooks: false },
  );
}

function runPlan(file: string, endpoint: string): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) =>
    execFile(
      'node',
      [join(__dirname, '../cli/portico.js'), 'plan', file],
      { env: { ...process.env, PORTICO_ENDPOINT: endpoint, PORTICO_TOKEN: TOKEN }, maxBuffer: 64 * 1024 * 1024 },
      (error, _out, err) =>
        error ? reject(new Error(`portico plan: ${err || error.message}`)) : resolve(seconds(start)),
    ),
  );
}

/**
 * Import of `count` entities against the floor: the same rows inserted raw, in batches, in one transaction, on the
 * same PostgreSQL (a throwaway cluster; the gateway's schema in a second database). Then a plan against the
 * unchanged gateway. Needs PostgreSQL's server binaries.
 */
export async function importBench(count = 10_000, log: (line: string) => void = () => {}): Promise<ImportBenchResult> {
  const cluster = await startPostgres();
  if (!cluster) throw new Error('the import benchmark needs PostgreSQL server binaries (initdb, pg_ctl)');
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-import-'));
  try {
    const doc = { version: 1, ...fleetDocument(count) };
    const entities = Object.values(fleetDocument(count)).reduce((n, list) => n + list.length, 0);
    const file = join(dir, 'fleet.json');
    writeFileSync(file, JSON.stringify(doc));

    const server = await gatewayOn(await createDatabase(cluster.url));
    let importSeconds: number, dryRunSeconds: number, planSeconds: number;
    let rows: Record<string, unknown>[];
    try {
      const call = (query: string) =>
        fetch(`${server.adminUrl}/v1/admin/config/import?${query}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(doc),
        }).then(async (res) => {
          if (!res.ok) throw new Error(`import: ${res.status} ${await res.text()}`);
          return res.json() as Promise<{ created: unknown[]; unchanged: number }>;
        });
      // the HTTP client (undici) loads on its first request: that is no part of the import's time
      await fetch(`${server.adminUrl}/v1/admin/audit/public-key`, { headers: { authorization: `Bearer ${TOKEN}` } });
      log(`import: ${entities} entities into an empty gateway`);
      let start = process.hrtime.bigint();
      const imported = await call('mode=merge');
      importSeconds = seconds(start);
      if (imported.created.length !== entities) throw new Error(`import created ${imported.created.length}`);
      start = process.hrtime.bigint();
      const dry = await call('mode=merge&dry_run=true');
      dryRunSeconds = seconds(start);
      if (dry.unchanged !== entities) throw new Error(`the dry run found ${dry.unchanged} unchanged`);
      log('import: portico plan against the unchanged gateway');
      planSeconds = await runPlan(file, server.adminUrl!);
      rows = await server.gateway.db.selectFrom('resources').selectAll().execute();
    } finally {
      await server.close();
    }

    // the floor: the same rows, raw, in a database with the same schema (a second gateway made it, then stopped)
    const floorUrl = await createDatabase(cluster.url);
    await (await gatewayOn(floorUrl)).close();
    const client = new pg.Client({ connectionString: floorUrl });
    await client.connect();
    // generated columns (the owner key) are the database's to fill
    const writable = await client.query(
      "select column_name from information_schema.columns where table_name = 'resources' and is_generated = 'NEVER'",
    );
    const columns = writable.rows.map((r: { column_name: string }) => r.column_name);
    const start = process.hrtime.bigint();
    await client.query('begin');
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000);
      const values = batch.map((_, r) => `(${columns.map((_c, c) => `$${r * columns.length + c + 1}`).join(',')})`);
      const params = batch.flatMap((row) => columns.map((c) => (isJson(row[c]) ? JSON.stringify(row[c]) : row[c])));
      await client.query(`insert into resources (${columns.join(',')}) values ${values.join(',')}`, params);
    }
    await client.query('commit');
    const rawInsertSeconds = seconds(start);
    await client.end();
    return { entities, database: 'PostgreSQL', rawInsertSeconds, importSeconds, planSeconds, dryRunSeconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    cluster.stop();
  }
}

const isJson = (v: unknown) => v !== null && typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v);

/** The benchmark as report lines (its RESULTS.md section is another helper's; these are printed). */
export function renderImport(r: ImportBenchResult): string[] {
  const ratio = r.importSeconds / r.rawInsertSeconds;
  return [
    `## Config import: ${r.entities.toLocaleString('en')} entities`,
    '',
    `${r.database} (throwaway cluster, fsync off), gateway in process, document posted over loopback HTTP.`,
    '',
    '| step | seconds |',
    '|---|---|',
    `| raw batched INSERT of the same rows (one transaction) | ${r.rawInsertSeconds.toFixed(2)} |`,
    `| import, one atomic apply | ${r.importSeconds.toFixed(2)} |`,
    `| dry run against the unchanged gateway | ${r.dryRunSeconds.toFixed(2)} |`,
    `| \`portico plan\`, process start included | ${r.planSeconds.toFixed(2)} |`,
    '',
    `Import against the raw insert: ${ratio.toFixed(1)}× (target 3×); plan ${r.planSeconds < 2 ? 'within' : 'over'} 2 s.`,
  ];
}

if (require.main === module) {
  const count = Number(process.argv[2] ?? 10_000);
  importBench(count, (line) => process.stderr.write(`${line}\n`)).then(
    (r) => process.stdout.write(renderImport(r).join('\n') + '\n'),
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
