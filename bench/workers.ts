import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { treeCpuMicros } from './cpu';
import { warmUp } from './load';
import { currentCheckout, startPortico } from './portico';
import { startPostgres } from './postgres';
import { ProcessGroup } from './processes';
import {
  cpuOf,
  describe,
  HTTP_CONCURRENCY,
  interleave,
  ms,
  port,
  roundsFor,
  startNginx,
  tree,
  type Row,
  type Target,
} from './proxies';

const ROOT = join(__dirname, '..');
/** The most workers compared: every core of this machine (2 here), at least 2. */
const MOST = Math.max(2, availableParallelism());
const FIRST_PASS_SECONDS = process.env.PORTICO_BENCH_SMOKE === '1' ? 1 : 5;

export interface WorkersResults {
  database: string;
  workers: number[];
  rows: (Row | { target: string; missing: string })[];
}

const porticoName = (w: number) => `Portico, PORTICO_WORKERS=${w}`;
const nginxName = (w: number) => `nginx proxy_pass, worker_processes ${w}`;

/**
 * `GET /svc/items` at concurrency 64 through Portico with one process (PORTICO_WORKERS=1) and with a worker per core,
 * on PostgreSQL, every check and the request-log row on, beside nginx with as many worker processes, in interleaved
 * rounds. CPU per request counts every process of each: Portico's primary and its workers with their share of
 * PostgreSQL (the backends of its own database), nginx's master and workers.
 */
export async function workersBench(log: (line: string) => void = () => {}): Promise<WorkersResults> {
  const group = new ProcessGroup();
  const pg = await startPostgres();
  if (!pg)
    throw new Error('the workers benchmark needs PostgreSQL server binaries (workers refuse the embedded PGlite)');
  const counts = [1, MOST];
  try {
    const mock = port(await group.start('node', [join(ROOT, 'bench/fixtures/mock-upstream.js')], /port=(\d+)/));
    const databases = counts.map((w) => `portico_workers_${w}`);
    const targets: Target[] = [];
    /** Each worker compiles its own code paths: a target's first pass is as long per worker as one process's. */
    const firstPass = new Map<string, number>();
    for (const [i, w] of counts.entries()) {
      firstPass.set(porticoName(w), FIRST_PASS_SECONDS * w);
      const url = await pg.database(databases[i]!);
      const portico = await startPortico(group, currentCheckout(), url, mock, [], { PORTICO_WORKERS: String(w) });
      const others = databases.filter((d) => d !== databases[i]).map((d) => new RegExp(` ${d}( |$)`));
      const postgres = () => treeCpuMicros(pg.pid, (title) => others.some((o) => o.test(title)));
      targets.push({
        name: porticoName(w),
        load: { url: `${portico.data}/svc/items`, headers: { authorization: `Bearer ${portico.key}` } },
        meter: cpuOf(tree(portico.pid), postgres),
      });
    }
    for (const w of counts) {
      const nginx = await startNginx(group, mock, w);
      targets.push({
        name: nginxName(w),
        load: 'url' in nginx ? { url: `${nginx.url}/svc/items` } : nginx,
        meter: cpuOf(...('pid' in nginx ? [tree(nginx.pid)] : [])),
      });
    }
    // every server freshly started: the first pass compiles their paths outside the measured rounds
    for (const { name, load } of targets)
      if (!('missing' in load)) await warmUp({ ...load, connections: 16 }, firstPass.get(name) ?? FIRST_PASS_SECONDS);
    const rows = await interleave(targets, roundsFor(targets.length), HTTP_CONCURRENCY, (row, round) =>
      log(`workers round ${round} ${row.target}: ${describe(row)}`),
    );
    return { database: 'PostgreSQL (a throwaway local cluster)', workers: counts, rows };
  } finally {
    await group.stopAll();
    pg.stop();
  }
}

/** The results as markdown: each target's median round, then how each scales from one worker to every core. */
export function renderWorkers(r: WorkersResults): string[] {
  const found = (name: string) => r.rows.find((x): x is Row => x.target === name && !('missing' in x));
  const range = (x: Row) => (x.range ? x.range.map(Math.round).join('–') : '—');
  const cpu = (x: Row) => (x.cpuPerRequest === undefined ? '—' : String(Math.round(x.cpuPerRequest)));
  const [one, most] = [r.workers[0]!, r.workers.at(-1)!];
  const ratio = (a: Row | undefined, b: Row | undefined) => (a && b ? `${(a.rps / b.rps).toFixed(2)}×` : '—');
  const share = (a: Row | undefined, b: Row | undefined) => (a && b ? `${((a.rps / b.rps) * 100).toFixed(1)}%` : '—');
  const [p1, pN, n1, nN] = [
    found(porticoName(one)),
    found(porticoName(most)),
    found(nginxName(one)),
    found(nginxName(most)),
  ];
  return [
    '## Every core: PORTICO_WORKERS',
    '',
    `\`GET /svc/items\` at concurrency ${HTTP_CONCURRENCY} against the mock backend, through Portico as one process (PORTICO_WORKERS=1) and as a primary with ${most} data-plane workers (node:cluster, sharing the data port), every check and the request-log row on, database: ${r.database}; beside nginx with ${one} and ${most} worker processes. ${cpus().length} cores, shared by the load generator (this process), the mock backend, PostgreSQL and the proxy under test: more workers than the cores left over cannot add throughput, and the figures say how much they add here, not on a bigger machine. A first pass through each target compiles its code paths (5 s per Portico worker, since each compiles its own), then interleaved rounds as in the HTTP proxy section; each row is the target's median round with the range over all rounds. CPU per request counts every process of the target: Portico's primary and workers with the PostgreSQL backends of its own database, nginx's master and workers.`,
    '',
    '| target | req/s | req/s range | p50 (ms) | p99 (ms) | CPU per request (µs) | non-2xx |',
    '|---|---|---|---|---|---|---|',
    ...r.rows.map((x) =>
      'missing' in x
        ? `| ${x.target} | — | — | — | — | — | ${x.missing} |`
        : `| ${x.target} | ${Math.round(x.rps)} | ${range(x)} | ${ms(x.p50)} | ${ms(x.p99)} | ${cpu(x)} | ${x.non2xx + x.errors} |`,
    ),
    '',
    `From ${one} to ${most} workers: Portico ${ratio(pN, p1)} the throughput, nginx ${ratio(nN, n1)}. Portico serves ${share(p1, n1)} of nginx's throughput with ${one} worker and ${share(pN, nN)} with ${most}.`,
    '',
  ];
}
