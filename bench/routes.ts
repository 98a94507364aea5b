import { join } from 'node:path';
import { treeCpuMicros } from './cpu';
import { measureLoad, warmUp, type LoadResult, type LoadSpec } from './load';
import { baselineCheckout, currentCheckout, startPortico, type Checkout, type RunningPortico } from './portico';
import { ProcessGroup } from './processes';

/**
 * Route matching at scale (issue 19, item 0): Porticos of this build with 1, 1,000 and 10,000 HTTP routes, side by
 * side on embedded PGlite, the same request (`GET /svc/items` with a tenant key, the bench's global route) against
 * each, in interleaved rounds. With `PORTICO_BENCH_BASELINE=<checkout>` the older build runs the same three beside
 * them. Optional: `npm run bench -- routes`.
 */

const ROOT = join(__dirname, '..');
const SMOKE = process.env.PORTICO_BENCH_SMOKE === '1';
const [SECONDS, WARMUP_SECONDS, ROUNDS] = SMOKE ? [1, 0.5, 1] : [5, 2, 6];
export const ROUTE_COUNTS = [1, 1_000, 10_000] as const;
const TENANTS = 1_000;
const CONNECTIONS = 64;

/**
 * `count - 1` HTTP routes besides the bench's own `/svc`: a tenth global, the rest spread over 1,000 tenants, two
 * to five segments deep, some sharing their first segments (as versions of one API do), some with a method list.
 */
export function routeFleet(count: number): Record<string, unknown[]> {
  const extra = count - 1;
  const tenants = extra ? Array.from({ length: TENANTS }, (_, i) => ({ id: `t-${i}`, name: `Tenant ${i}` })) : [];
  const routes = Array.from({ length: extra }, (_, i) => {
    const owner = i % 10 === 0 ? null : `t-${i % TENANTS}`;
    const area = owner ?? 'platform';
    return {
      id: `r-${i}`,
      ...(owner ? { tenant_id: owner } : {}),
      path_prefix: `/${area}/api${i % 7}/v${i % 3}/r${i}${i % 4 === 0 ? '/items' : ''}`,
      methods: i % 5 === 0 ? ['GET', 'POST'] : [],
      backend_url: 'http://127.0.0.1:9',
    };
  });
  return { tenants, routes };
}

async function importFleet(p: RunningPortico, count: number): Promise<void> {
  if (count <= 1) return;
  const res = await fetch(`${p.admin}/v1/admin/config/import?mode=merge`, {
    method: 'POST',
    headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(routeFleet(count)),
  });
  if (res.status !== 200) throw new Error(`import of ${count} routes: ${res.status} ${await res.text()}`);
  await new Promise((r) => setTimeout(r, 2000)); // the snapshot picks the changes up
}

export interface RouteRow extends LoadResult {
  build: 'now' | 'before';
  commit: string;
  routes: number;
  /** Throughput of every round, for the range. */
  roundRps: number[];
}

const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function routeBench(log: (line: string) => void = () => {}): Promise<RouteRow[]> {
  const group = new ProcessGroup();
  try {
    const mock = await group.start('node', [join(ROOT, 'bench/fixtures/mock-upstream.js')], /port=(\d+)/);
    const mockUrl = `http://127.0.0.1:${mock[1]}`;
    const builds: { build: 'now' | 'before'; checkout: Checkout }[] = [{ build: 'now', checkout: currentCheckout() }];
    const before = baselineCheckout();
    if (before) builds.push({ build: 'before', checkout: before });
    const targets: { build: 'now' | 'before'; commit: string; routes: number; p: RunningPortico }[] = [];
    for (const { build, checkout } of builds)
      for (const routes of ROUTE_COUNTS) {
        const p = await startPortico(group, checkout, undefined, mockUrl);
        await importFleet(p, routes);
        targets.push({ build, commit: checkout.commit, routes, p });
        log(`routes: ${build} (${checkout.commit}) with ${routes} HTTP routes ready`);
      }
    const spec = (p: RunningPortico): LoadSpec => ({
      url: `${p.data}/svc/items`,
      headers: { authorization: `Bearer ${p.key}` },
      connections: CONNECTIONS,
    });
    for (const { p } of targets) await warmUp(spec(p), WARMUP_SECONDS * 2);
    const measured: LoadResult[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++)
      for (let k = 0; k < targets.length; k++) {
        const i = (k + round) % targets.length; // each takes each place in turn
        const { build, routes, p } = targets[i]!;
        const result = await measureLoad(spec(p), SECONDS, WARMUP_SECONDS, () => treeCpuMicros(p.pid));
        if (result.non2xx || result.errors)
          throw new Error(`${build} ${routes} routes: ${result.non2xx} non-2xx, ${result.errors} errors`);
        measured[i]!.push(result);
        log(
          `routes round ${round + 1} ${build} ${routes}: ${Math.round(result.rps)} req/s, ${Math.round(result.cpuPerRequest ?? NaN)} µs CPU/req`,
        );
      }
    return targets.map(({ build, commit, routes }, i) => {
      const runs = measured[i]!;
      const median = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
      const cpus = runs.flatMap((r) => (r.cpuPerRequest === undefined ? [] : [r.cpuPerRequest]));
      return {
        ...median,
        cpuPerRequest: cpus.length ? middle(cpus) : undefined,
        build,
        commit,
        routes,
        roundRps: runs.map((r) => r.rps),
      };
    });
  } finally {
    await group.stopAll();
  }
}

export function renderRoutes(rows: RouteRow[]): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const verdicts = (['now', 'before'] as const).flatMap((build) => {
    const one = rows.find((r) => r.build === build && r.routes === 1);
    const most = rows.find((r) => r.build === build && r.routes === 10_000);
    if (!one || !most) return [];
    const ratio = most.rps / one.rps;
    const cpu =
      one.cpuPerRequest !== undefined && most.cpuPerRequest !== undefined
        ? `, CPU per request ${Math.round(most.cpuPerRequest)} against ${Math.round(one.cpuPerRequest)} µs`
        : '';
    const goal = build === 'now' ? ` (target: within 10%, ${ratio >= 0.9 ? 'met' : 'missed'})` : '';
    return [
      `- ${build} (${one.commit}): 10,000 routes serve ${(ratio * 100).toFixed(1)}% of one route's throughput${goal}${cpu}.`,
    ];
  });
  return [
    '## Route matching: 1, 1,000 and 10,000 HTTP routes',
    '',
    `\`npm run bench -- routes\` (optional; \`PORTICO_BENCH_BASELINE=<checkout>\` adds an older build). Porticos on embedded PGlite side by side, one per route count (the extra routes over ${n(TENANTS)} tenants, a tenth global, imported in one document), all serving \`GET /svc/items\` with a tenant key through the same global route, at concurrency ${CONNECTIONS} against the mock upstream. ${ROUNDS} interleaved rounds of ${SECONDS} s, each round starting one target later; each row is the median round, with the range over all rounds, and the median CPU per request of the Portico process.`,
    '',
    '| build | HTTP routes | req/s | req/s range | p50 (ms) | p99 (ms) | CPU per request (µs) |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.build} (${r.commit}) | ${n(r.routes)} | ${Math.round(r.rps)} | ${Math.round(Math.min(...r.roundRps))}–${Math.round(Math.max(...r.roundRps))} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuPerRequest === undefined ? '–' : Math.round(r.cpuPerRequest)} |`,
    ),
    '',
    ...verdicts,
  ];
}
