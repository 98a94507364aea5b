import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { currentCheckout, startPortico } from './portico';
import { startPostgres } from './postgres';
import { ProcessGroup } from './processes';

/**
 * Gateway start-up (issue 19, items 1 and 2): `node cli/portico.js serve` from exec to its data plane's
 * `/health/ready` answering 200, in interleaved rounds over the cases below, each start a new process stopped after
 * it was measured. The module load time is the one the node logs itself (`startup_ms.modules`); RSS is read from
 * /proc when ready.
 */

const SMOKE = process.env.PORTICO_BENCH_SMOKE === '1';
/** PORTICO_BENCH_START_ROUNDS: fewer rounds for a quick check (the published figures use 5). */
const ROUNDS = SMOKE ? 1 : Number(process.env.PORTICO_BENCH_START_ROUNDS) || 5;
/** PORTICO_BENCH_START_CASES: only the cases whose name contains this (e.g. `PostgreSQL`, `embedded`). */
const ONLY = process.env.PORTICO_BENCH_START_CASES ?? '';
const TOKEN = 'bench-start-owner-token-0123456789abcdef';
const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
export const FLEET = { tenants: 1_000, keys: 100_000, routes: 10_000 };

export interface StartCase {
  name: string;
  /** Exec to the first 200 from /health/ready, per round (ms). */
  readyMs: number[];
  /** Module load, as the node logged it (ms). */
  modulesMs: number[];
  /** Resident set size when ready (MB). */
  rssMb: number[];
}

export interface StartResult {
  cases: StartCase[];
  load: number;
  postgres: boolean;
}

interface CaseSpec {
  name: string;
  env: () => Record<string, string>;
}

/** One start: exec, the serving line, then /health/ready on the data port until 200. */
async function measureStart(
  env: Record<string, string>,
): Promise<{ readyMs: number; modulesMs: number; rssMb: number }> {
  const root = currentCheckout().dir;
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, 'cli/portico.js'), 'serve'], {
    env: {
      ...process.env,
      PORTICO_ADMIN_TOKEN: TOKEN,
      PORTICO_ADMIN_PORT: '0',
      PORTICO_DATA_PORT: '0',
      PORTICO_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  try {
    const line = await new Promise<any>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        const text = out.split('\n').find((l) => l.includes('portico is serving'));
        if (text) resolve(JSON.parse(text));
      });
      child.once('exit', (code) => reject(new Error(`portico exited (${code}):\n${out.slice(-2000)}\n${err}`)));
    });
    const url = `${line.data ?? line.admin}/health/ready`;
    for (;;) {
      const res = await fetch(url).catch(() => undefined);
      await res?.text();
      if (res?.status === 200) break;
      if (performance.now() - started > 120_000) throw new Error(`${url} not ready in 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const readyMs = performance.now() - started;
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return { readyMs, modulesMs: line.startup_ms?.modules ?? NaN, rssMb: rss ? Number(rss[1]) / 1024 : NaN };
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
}

/** 1,000 tenants, 100,000 keys and 10,000 HTTP routes, cloned in SQL from rows the admin API made (seconds, not hours). */
export async function seedFleet(url: string, log: (line: string) => void): Promise<void> {
  const group = new ProcessGroup();
  try {
    await startPortico(group, currentCheckout(), url, 'http://127.0.0.1:9');
  } finally {
    await group.stopAll();
  }
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const clone = (sqlText: string) => client.query(sqlText);
    await clone(`insert into resources (kind, id, tenant_id, data, secret, lookup, version, created_at, updated_at)
      select kind, 't-' || g, tenant_id, jsonb_set(data, '{name}', to_jsonb('Tenant ' || g)), secret, lookup, version, now(), now()
      from resources, generate_series(1, ${FLEET.tenants}) g where kind = 'tenant' and id = 'bench'`);
    await clone(`insert into resources (kind, id, tenant_id, data, secret, lookup, version, created_at, updated_at)
      select kind, 'key-' || g, 't-' || (1 + g % ${FLEET.tenants}), data, secret,
        md5('k' || g) || md5('key' || g), version, now(), now()
      from resources, generate_series(1, ${FLEET.keys}) g where kind = 'api_key' and tenant_id = 'bench'`);
    await clone(`insert into resources (kind, id, tenant_id, data, secret, lookup, version, created_at, updated_at)
      select kind, 'r-' || g, case when g % 10 = 0 then null else 't-' || (1 + g % ${FLEET.tenants}) end,
        jsonb_set(data, '{path_prefix}', to_jsonb('/area' || (g % 7) || '/v' || (g % 3) || '/r' || g)), secret, null,
        version, now(), now()
      from resources, generate_series(1, ${FLEET.routes}) g where kind = 'route' and id = 'svc'`);
    const { rows } = await client.query(`select kind, count(*)::int as n from resources group by kind order by kind`);
    log(`start-up: fleet seeded (${rows.map((r) => `${r.kind} ${r.n}`).join(', ')})`);
  } finally {
    await client.end();
  }
}

export async function coldStartBench(log: (line: string) => void): Promise<StartResult> {
  const scratch = mkdtempSync(join(tmpdir(), 'portico-bench-start-'));
  const pg = await startPostgres();
  try {
    let n = 0;
    const newDir = () => join(scratch, `data-${n++}`);
    const existing = newDir();
    await measureStart({ PORTICO_DATA_DIR: existing }); // made once; later starts find it
    let cases: CaseSpec[] = [
      { name: 'embedded, `memory://`', env: () => ({ PORTICO_DATA_DIR: 'memory://' }) },
      { name: 'embedded, new data dir (from the image)', env: () => ({ PORTICO_DATA_DIR: newDir() }) },
      {
        name: 'embedded, new data dir, no image (initdb: before)',
        env: () => ({ PORTICO_DATA_DIR: newDir(), PORTICO_PGLITE_IMAGE: 'none' }),
      },
      { name: 'embedded, existing data dir', env: () => ({ PORTICO_DATA_DIR: existing }) },
    ];
    if (pg && !ONLY.startsWith('embedded')) {
      const empty = await pg.database('start_empty');
      const fleet = await pg.database('start_fleet');
      await seedFleet(fleet, log);
      const dataNode = (url: string) => () => ({
        DATABASE_URL: url,
        PORTICO_MASTER_KEY: MASTER_KEY,
        PORTICO_ROLE: 'data',
        PORTICO_DATA_DIR: newDir(),
        PORTICO_WORKERS: '1', // one process's start (workers would start after it, bench/workers.ts)
      });
      await measureStart(dataNode(empty)()); // migrates the empty database once
      cases.push(
        { name: 'PostgreSQL, data node, empty', env: dataNode(empty) },
        {
          name: `PostgreSQL, data node, ${FLEET.tenants.toLocaleString('en')} tenants, ${FLEET.keys.toLocaleString('en')} keys, ${FLEET.routes.toLocaleString('en')} routes`,
          env: dataNode(fleet),
        },
      );
    }
    cases = cases.filter((c) => c.name.includes(ONLY));
    const results: StartCase[] = cases.map((c) => ({ name: c.name, readyMs: [], modulesMs: [], rssMb: [] }));
    for (let round = 0; round < ROUNDS; round++)
      for (let i = 0; i < cases.length; i++) {
        const k = round % 2 === 0 ? i : cases.length - 1 - i; // alternate the order, so no case always goes first
        const m = await measureStart(cases[k]!.env());
        results[k]!.readyMs.push(m.readyMs);
        results[k]!.modulesMs.push(m.modulesMs);
        results[k]!.rssMb.push(m.rssMb);
        log(
          `start-up round ${round + 1}: ${cases[k]!.name}: ready ${Math.round(m.readyMs)} ms, rss ${Math.round(m.rssMb)} MB`,
        );
      }
    return { cases: results, load: loadavg()[0]!, postgres: pg !== undefined };
  } finally {
    pg?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;

export function renderColdStart(r: StartResult): string[] {
  const row = (c: StartCase) =>
    `| ${c.name} | ${Math.round(median(c.readyMs))} | ${range(c.readyMs)} | ${Math.round(median(c.modulesMs))} | ${Math.round(median(c.rssMb))} |`;
  const find = (prefix: string) => r.cases.find((c) => c.name.startsWith(prefix));
  const verdict = (
    c: StartCase | undefined,
    what: string,
    value: (c: StartCase) => number,
    limit: number,
    unit: string,
  ) =>
    c
      ? `${what} ${Math.round(value(c))} ${unit} (target ≤ ${limit} ${unit}: ${value(c) <= limit ? 'met' : 'missed'})`
      : `${what}: not measured`;
  const image = find('embedded, new data dir (from');
  const fleet = find('PostgreSQL, data node, 1');
  const modules = median(r.cases.flatMap((c) => c.modulesMs));
  return [
    '## Gateway start-up',
    '',
    `\`node cli/portico.js serve\` (the compiled bundle) from exec to the first 200 from its data plane's \`/health/ready\`, each start a new process, ${ROUNDS} interleaved rounds (the order reversed every other round); module load is what the node logs (\`startup_ms.modules\`: from the end of Node's own bootstrap to the server's code loaded, the bundle's compile included), RSS is read when ready. The fleet is cloned in SQL from rows the admin API made.`,
    '',
    '| case | ready (ms), median | range (ms) | module load (ms) | RSS when ready (MB) |',
    '|---|---|---|---|---|',
    ...r.cases.map(row),
    '',
    `Targets (issue 19): ${verdict({ name: '', readyMs: [modules], modulesMs: [], rssMb: [] }, 'module load', (c) => c.readyMs[0]!, 200, 'ms')}; ${verdict(image, 'embedded first start', (c) => median(c.readyMs), 1500, 'ms')}; ${verdict(fleet, 'data node with the fleet ready', (c) => median(c.readyMs), 1500, 'ms')}, ${verdict(fleet, 'its RSS', (c) => median(c.rssMb), 250, 'MB')}.`,
    '',
    `Load average when this ran (${new Date().toISOString().slice(0, 10)}): ${r.load.toFixed(1)}.${r.postgres ? '' : ' PostgreSQL was not available: its rows are missing.'}`,
  ];
}
