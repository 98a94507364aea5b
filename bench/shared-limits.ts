import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { currentCheckout, startNode, startPortico, type RunningPortico } from './portico';
import { startPostgres } from './postgres';
import { ProcessGroup } from './processes';
import { RedisServer } from '../test/support/redis-server';

const ROOT = join(__dirname, '..');
const SMOKE = process.env.PORTICO_BENCH_SMOKE === '1';
/** The route limit every round counts against, in a window far longer than a round (no window ends inside one). */
const LIMIT = 500;
const ROUNDS = SMOKE ? 2 : 8;
/** Connections per node: the counters are hit by both nodes at full speed at once. */
const CONNECTIONS = 32;
/** Requests each node sends per round: enough for each alone to reach the limit three times over. */
const SENT_PER_NODE = 3 * LIMIT;

/** One configuration of two nodes sharing (or not) their limits. */
interface LimitCase {
  name: string;
  nodes: number;
  /** PORTICO_REDIS_BATCH, when the nodes count in Redis. */
  batch?: number;
  /** What the README promises at most: L + N × B with Redis, N × L without. */
  bound: number;
}

export interface SharedLimitRow extends LimitCase {
  /** Requests admitted (2xx) per round, over both nodes. */
  admitted: number[];
  /** Requests per second both nodes answered together, per round (admitted and refused). */
  rps: number[];
}

/** Sends `count` requests over `connections` and counts the 2xx and the 429s; anything else is an error. */
async function hammer(url: string, key: string, count: number, connections: number) {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections, pipelining: 1 });
  let [ok, refused, left] = [0, 0, count];
  const loop = async () => {
    while (left-- > 0) {
      const res = await pool.request({ path: pathname, method: 'GET', headers: { authorization: `Bearer ${key}` } });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) ok++;
      else if (res.statusCode === 429) refused++;
      else throw new Error(`${url}: ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  await pool.close();
  return { ok, refused };
}

/**
 * Two nodes on one PostgreSQL, both sending a route at its limit at full speed at once, in rounds that each use a
 * fresh route (a fresh counter): with Redis at two batch sizes, and without Redis (each node counts alone).
 */
export async function sharedLimitBench(log: (line: string) => void = () => {}): Promise<SharedLimitRow[]> {
  const group = new ProcessGroup();
  const pg = await startPostgres();
  const redis = new RedisServer();
  if (!pg) throw new Error('the shared-limit benchmark needs PostgreSQL binaries (pg_config --bindir)');
  try {
    await redis.start();
    const mockProcess = await group.start('node', [join(ROOT, 'bench/fixtures/mock-upstream.js')], /port=(\d+)/);
    const mock = `http://127.0.0.1:${mockProcess[1]}`;
    const cases: LimitCase[] = [
      { name: '2 nodes, Redis, B = 20 (default)', nodes: 2, batch: 20, bound: LIMIT + 2 * 20 },
      { name: '2 nodes, Redis, B = 5', nodes: 2, batch: 5, bound: LIMIT + 2 * 5 },
      { name: '2 nodes, no Redis (each counts alone)', nodes: 2, bound: 2 * LIMIT },
    ];
    const rows: SharedLimitRow[] = [];
    for (const [i, c] of cases.entries()) {
      const env = c.batch ? { PORTICO_REDIS_URL: redis.url, PORTICO_REDIS_BATCH: String(c.batch) } : {};
      const url = await pg.database(`limits_${i}`);
      const dataDir = () => ({ PORTICO_DATA_DIR: mkdtempSync(join(tmpdir(), 'portico-bench-limits-')) });
      const first = await startPortico(group, currentCheckout(), url, mock, [], { ...env, ...dataDir() });
      const second = await startNode(group, currentCheckout(), url, { ...env, ...dataDir() });
      for (let r = 0; r < ROUNDS; r++) await limitedRoute(first, `/lim${r}`, mock);
      await new Promise((res) => setTimeout(res, 1500)); // both snapshots hold the routes (p99 ≈ 0.1 s)
      const row: SharedLimitRow = { ...c, admitted: [], rps: [] };
      for (let r = 0; r < ROUNDS; r++) {
        const started = process.hrtime.bigint();
        const answers = await Promise.all(
          [first.data, second.data].map((d) => hammer(`${d}/lim${r}/items`, first.key, SENT_PER_NODE, CONNECTIONS)),
        );
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const admitted = answers.reduce((sum, a) => sum + a.ok, 0);
        row.admitted.push(admitted);
        row.rps.push((2 * SENT_PER_NODE) / seconds);
        log(`limits ${c.name} round ${r + 1}: ${admitted} admitted of ${2 * SENT_PER_NODE} (limit ${LIMIT})`);
      }
      rows.push(row);
    }
    return rows;
  } finally {
    await group.stopAll();
    await redis.stop();
    pg.stop();
  }
}

async function limitedRoute(portico: RunningPortico, prefix: string, mock: string): Promise<void> {
  const res = await fetch(`${portico.admin}/v1/admin/routes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${portico.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: `lim-${prefix.slice(1)}`,
      path_prefix: prefix,
      backend_url: mock,
      strip_prefix: true,
      rate_limit: { limit: LIMIT, window_secs: 3600 },
    }),
  });
  if (res.status !== 201) throw new Error(`route ${prefix}: ${res.status} ${await res.text()}`);
}

const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function renderSharedLimits(rows: SharedLimitRow[]): string[] {
  const bounded = (r: SharedLimitRow) => r.admitted.every((a) => a >= LIMIT && a <= r.bound);
  return [
    '## Shared limits: two nodes, one route limit',
    '',
    `\`npm run bench -- limits\`. Two Porticos on one PostgreSQL (an all-in-one node and a data node), each sending ${SENT_PER_NODE} requests over ${CONNECTIONS} connections at once through a route limited to L = ${LIMIT} per hour with the same key, ${ROUNDS} rounds, each on a fresh route (a fresh counter). The README's bound: with \`PORTICO_REDIS_URL\`, at most L + N × B admitted per window with N nodes and B = \`PORTICO_REDIS_BATCH\` (and never fewer than L); without Redis each node counts alone, so up to N × L.`,
    '',
    '| case | admitted per round, median | range | over the limit, worst | bound | req/s answered (both nodes) |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${middle(r.admitted)} | ${Math.min(...r.admitted)}–${Math.max(...r.admitted)} | ${Math.max(...r.admitted) - LIMIT} | ${r.bound} (${bounded(r) ? 'within' : 'outside'}) | ${Math.round(middle(r.rps))} |`,
    ),
  ];
}
