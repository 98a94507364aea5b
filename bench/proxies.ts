import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTP_BEFORE, HTTP_NOW, LLM_BEFORE, LLM_NOW, renderBaseline, type BaselineRun } from './baseline';
import { treeCpuMicros } from './cpu';
import { chooseRate, fixedRatePass, fixedRateSettings, type FixedRatePath } from './fixedrate';
import { measureLoad, warmUp, type LoadResult, type LoadSpec } from './load';
import { baselineCheckout, currentCheckout, startPortico, type Checkout, type RunningPortico } from './portico';
import { startPostgres, type BenchPostgres } from './postgres';
import { ProcessGroup } from './processes';

const ROOT = join(__dirname, '..');
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });
const LLM_CONCURRENCY = [1, 16, 64];
export const HTTP_CONCURRENCY = 64;
const HTTP_EMBEDDED = 'Portico on embedded PGlite (same checks)';
/** `PORTICO_BENCH_SMOKE=1`: one short round of everything, to try the code (RESULTS.md is left alone). */
const SMOKE = process.env.PORTICO_BENCH_SMOKE === '1';
const [SECONDS, WARMUP_SECONDS, FIRST_PASS_SECONDS] = SMOKE ? [1, 0.5, 1] : [5, 2, 5];
/** Twice as many rounds as targets (each takes each place in the order twice); one in a smoke run. */
export const roundsFor = (targets: number) => (SMOKE ? 1 : 2 * targets);

/** The middle of a list of numbers (of an even count, the upper of the middle two). */
const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * A target's rounds as one row: the round with the median throughput, the median CPU per request, the range, and
 * each round's throughput in order (to pair it with another target's same round).
 */
function median(rows: Row[]): Row {
  const rps = rows.map((r) => r.rps);
  const row: Row = {
    ...rows.find((r) => r.rps === middle(rps))!,
    range: [Math.min(...rps), Math.max(...rps)],
    roundRps: rps,
  };
  const cpu = rows.flatMap((r) => (r.cpuPerRequest === undefined ? [] : [r.cpuPerRequest]));
  if (cpu.length) row.cpuPerRequest = middle(cpu);
  return row;
}

export interface Row extends LoadResult {
  target: string;
  connections: number;
  /** The lowest and highest throughput over the rounds. */
  range?: [number, number];
  /** The throughput of each round, in round order. */
  roundRps?: number[];
}

export interface DataPlaneResults {
  database: string;
  llm: Row[];
  http: (Row | { target: string; missing: string })[];
  /** Set when an older build ran beside this one (`PORTICO_BENCH_BASELINE`). */
  baseline?: BaselineRun;
  /** Both builds at one fixed request rate per hot path, when an older build ran beside this one. */
  fixedRate?: FixedRatePath[];
}

/** One target of a phase: its name, its load (or why it is missing), and a meter of the CPU time of what serves it. */
export interface Target {
  name: string;
  load: Omit<LoadSpec, 'connections'> | { missing: string };
  meter: () => number | undefined;
}

/**
 * Rounds that interleave the targets, so a slow spell of the shared machine falls on all of them, each round
 * starting at the next target, so none always follows the same one (the direct run leaves the most garbage behind
 * it); each target reports its median round.
 */
export async function interleave(
  targets: Target[],
  rounds: number,
  connections: number,
  log: (row: Row, round: number) => void,
): Promise<(Row | { target: string; missing: string })[]> {
  const measured: Row[][] = targets.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (k + round - 1) % targets.length;
      const { name, load, meter } = targets[i]!;
      if ('missing' in load) continue;
      const result = await measureLoad({ ...load, connections }, SECONDS, WARMUP_SECONDS, meter);
      measured[i]!.push({ target: name, connections, ...result });
      log(measured[i]!.at(-1)!, round);
    }
  }
  return targets.map(({ name, load }, i) => ('missing' in load ? { target: name, ...load } : median(measured[i]!)));
}

/** The CPU time of some process trees, summed; undefined once one has gone. */
export const cpuOf =
  (...trees: (() => number | undefined)[]) =>
  () => {
    let sum = 0;
    for (const tree of trees) {
      const t = tree();
      if (t === undefined) return undefined;
      sum += t;
    }
    return sum;
  };
export const tree = (pid: number) => () => treeCpuMicros(pid);

/** A Portico with its own database when PostgreSQL runs, and the meter of its process and its share of PostgreSQL. */
interface Build {
  portico: RunningPortico;
  meter: () => number | undefined;
}

/**
 * Starts each build on its own database of the cluster (named in `databases`), and meters each one's process with
 * PostgreSQL less the backends of the other builds' databases (their titles name their database).
 */
async function startBuilds(
  group: ProcessGroup,
  pg: BenchPostgres | undefined,
  mock: string,
  builds: { checkout: Checkout; database: string }[],
): Promise<Build[]> {
  const started: Build[] = [];
  for (const { checkout, database } of builds) {
    const portico = await startPortico(group, checkout, pg && (await pg.database(database)), mock);
    const others = builds.filter((b) => b.database !== database).map((b) => new RegExp(` ${b.database}( |$)`));
    const postgres = pg ? [() => treeCpuMicros(pg.pid, (title) => others.some((o) => o.test(title)))] : [];
    started.push({ portico, meter: cpuOf(tree(portico.pid), ...postgres) });
  }
  return started;
}

export const port = (m: RegExpExecArray) => `http://127.0.0.1:${m[1]}`;

async function waitForHttp(url: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** nginx with `workers` worker processes (1 unless told) and keep-alive to the mock, or why not. */
export async function startNginx(
  group: ProcessGroup,
  mock: string,
  workers = 1,
): Promise<{ url: string; pid: number } | { missing: string }> {
  const bin =
    ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync) ??
    (() => {
      try {
        return execFileSync('which', ['nginx']).toString().trim() || undefined;
      } catch {
        return undefined;
      }
    })();
  if (!bin) return { missing: 'nginx is not installed (apt-get install nginx-light)' };
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-nginx-'));
  const listen = 20_000 + Math.floor(Math.random() * 20_000);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join(' ');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes ${workers}; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; ${temp}
  upstream mock { server ${new URL(mock).host}; keepalive 128; keepalive_requests 1000000; }
  server { listen 127.0.0.1:${listen}; location /svc/ { proxy_pass http://mock/; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  );
  const { child } = group.spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf')]);
  const url = `http://127.0.0.1:${listen}`;
  await waitForHttp(`${url}/svc/ready`);
  return { url, pid: child.pid! };
}

/**
 * (a) LLM proxy overhead at concurrency 1, 16 and 64: the mock called directly, through Portico, and through
 * Portkey's gateway. (b) HTTP proxy throughput at concurrency 64: direct, through Portico with key auth and a rate
 * limit, through @fastify/http-proxy with no checks, and through nginx. Every server is its own process. With
 * `PORTICO_BENCH_BASELINE=<checkout>`, an older Portico runs beside today's in the same rounds of both.
 */
export async function dataPlaneBench(log: (line: string) => void = () => {}): Promise<DataPlaneResults> {
  const before = baselineCheckout();
  const now = currentCheckout();
  const group = new ProcessGroup();
  const pg = await startPostgres();
  try {
    const mockProcess = await group.start('node', [join(ROOT, 'bench/fixtures/mock-upstream.js')], /port=(\d+)/);
    const mock = port(mockProcess);
    const [portico, baseline] = await startBuilds(group, pg, mock, [
      { checkout: now, database: 'portico' },
      ...(before ? [{ checkout: before, database: 'portico_baseline' }] : []),
    ]);
    // the default a newcomer runs: the same build on its embedded PGlite (item 5 of issue 19: its tail latency)
    const embedded = pg && (await startPortico(group, now, undefined, mock));
    const portkeyProcess = await group.start(
      'node',
      [
        join(ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js'),
        `--port=${19_000 + Math.floor(Math.random() * 1000)}`,
        '--headless',
      ],
      /localhost:(\d+)/,
    );
    const portkey = port(portkeyProcess);
    const fastifyProcess = await group.start(
      'node',
      [join(ROOT, 'bench/fixtures/fastify-proxy.js'), mock],
      /port=(\d+)/,
    );
    const fastifyProxy = port(fastifyProcess);
    const nginx = await startNginx(group, mock);

    // each target's meter reads the CPU time of what serves it: the mock for the direct calls, else the proxy (for
    // Portico, its share of PostgreSQL too)
    const json = { 'content-type': 'application/json' };
    const chat = (url: string, authorization: string, headers: Record<string, string> = {}) => ({
      url: `${url}/v1/chat/completions`,
      method: 'POST' as const,
      headers: { ...json, authorization, ...headers },
      body: CHAT,
    });
    const llmTargets: Target[] = [
      { name: 'direct (mock)', load: chat(mock, 'Bearer sk-bench'), meter: tree(mockProcess.pid) },
      { name: LLM_NOW, load: chat(portico!.portico.data, `Bearer ${portico!.portico.key}`), meter: portico!.meter },
      ...(baseline
        ? [
            {
              name: LLM_BEFORE,
              load: chat(baseline.portico.data, `Bearer ${baseline.portico.key}`),
              meter: baseline.meter,
            },
          ]
        : []),
      {
        name: 'Portkey gateway',
        load: chat(portkey, 'Bearer sk-bench', {
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${mock}/v1`,
        }),
        meter: tree(portkeyProcess.pid),
      },
    ];
    // every server freshly started: without a first pass, whichever meets load first pays for compiling its paths
    // inside a measured round (at concurrency 1 the per-cell warm-up is too few requests for that)
    for (const { load } of llmTargets)
      if (!('missing' in load)) await warmUp({ ...load, connections: 16 }, FIRST_PASS_SECONDS);
    const llm: Row[] = [];
    for (const connections of LLM_CONCURRENCY) {
      const rows = await interleave(llmTargets, roundsFor(llmTargets.length), connections, (row, round) =>
        log(`llm c=${connections} round ${round} ${row.target}: ${describe(row)}`),
      );
      llm.push(...(rows as Row[]));
    }

    const svc = (url: string, authorization?: string): Omit<LoadSpec, 'connections'> => ({
      url: `${url}/svc/items`,
      headers: authorization ? { authorization } : {},
    });
    const httpTargets: Target[] = [
      { name: 'direct (mock)', load: svc(mock), meter: tree(mockProcess.pid) },
      { name: HTTP_NOW, load: svc(portico!.portico.data, `Bearer ${portico!.portico.key}`), meter: portico!.meter },
      ...(baseline
        ? [
            {
              name: HTTP_BEFORE,
              load: svc(baseline.portico.data, `Bearer ${baseline.portico.key}`),
              meter: baseline.meter,
            },
          ]
        : []),
      ...(embedded
        ? [{ name: HTTP_EMBEDDED, load: svc(embedded.data, `Bearer ${embedded.key}`), meter: tree(embedded.pid) }]
        : []),
      { name: '@fastify/http-proxy (no checks)', load: svc(fastifyProxy), meter: tree(fastifyProcess.pid) },
      {
        name: 'nginx proxy_pass (1 worker)',
        load: 'url' in nginx ? svc(nginx.url) : nginx,
        meter: cpuOf(...('pid' in nginx ? [tree(nginx.pid)] : [])),
      },
    ];
    const http = await interleave(httpTargets, roundsFor(httpTargets.length), HTTP_CONCURRENCY, (row, round) =>
      log(`http round ${round} ${row.target}: ${describe(row)}`),
    );
    const fixedRate =
      baseline && (await fixedRateOfBuilds(llm, http, portico!, baseline, llmTargets, httpTargets, log));
    return {
      fixedRate,
      database: pg ? 'PostgreSQL (a throwaway local cluster)' : 'embedded PGlite (no PostgreSQL binaries found)',
      llm,
      http,
      ...(before ? { baseline: { now, before } } : {}),
    };
  } finally {
    await group.stopAll();
    pg?.stop();
  }
}

/**
 * The fixed-rate pass of the two builds: each hot path at a rate both sustain comfortably, a share of the slower
 * build's closed-loop throughput just measured (on the LLM path, at its best concurrency) unless set by hand.
 */
async function fixedRateOfBuilds(
  llm: Row[],
  http: DataPlaneResults['http'],
  now: Build,
  before: Build,
  llmTargets: Target[],
  httpTargets: Target[],
  log: (line: string) => void,
): Promise<FixedRatePath[]> {
  const settings = fixedRateSettings();
  const rps = (rows: DataPlaneResults['http'], target: string, c?: number) =>
    rows.find((x): x is Row => x.target === target && !('missing' in x) && (c === undefined || x.connections === c))
      ?.rps ?? 0;
  const slowerLlm = Math.max(...LLM_CONCURRENCY.map((c) => Math.min(rps(llm, LLM_NOW, c), rps(llm, LLM_BEFORE, c))));
  const p50 = (rows: DataPlaneResults['http'], target: string, c: number) =>
    rows.find((x): x is Row => x.target === target && !('missing' in x) && x.connections === c)?.p50 ?? Infinity;
  const saturated = (rows: DataPlaneResults['http'], names: [string, string], c: number) => ({
    now: p50(rows, names[0], c),
    before: p50(rows, names[1], c),
  });
  const slowerHttp = Math.min(rps(http, HTTP_NOW), rps(http, HTTP_BEFORE));
  const load = (targets: Target[], name: string, connections: number): LoadSpec => {
    const spec = targets.find((t) => t.name === name)!.load;
    if ('missing' in spec) throw new Error(`${name}: ${spec.missing}`);
    return { ...spec, connections };
  };
  const started = Date.now();
  const paths = await fixedRatePass(
    [
      {
        path: 'LLM proxy',
        rate: chooseRate(settings.llmRate, settings.share, slowerLlm),
        saturatedP50: saturated(llm, [LLM_NOW, LLM_BEFORE], 64),
        now: { load: load(llmTargets, LLM_NOW, 64), meter: now.meter },
        before: { load: load(llmTargets, LLM_BEFORE, 64), meter: before.meter },
      },
      {
        path: 'HTTP API proxy',
        rate: chooseRate(settings.httpRate, settings.share, slowerHttp),
        saturatedP50: saturated(http, [HTTP_NOW, HTTP_BEFORE], HTTP_CONCURRENCY),
        now: { load: load(httpTargets, HTTP_NOW, HTTP_CONCURRENCY), meter: now.meter },
        before: { load: load(httpTargets, HTTP_BEFORE, HTTP_CONCURRENCY), meter: before.meter },
      },
    ],
    settings,
    log,
  );
  log(`fixed-rate pass took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return paths;
}

/** A measured round in the progress log. */
export const describe = (row: Row) =>
  `${Math.round(row.rps)} rps, p99 ${row.p99.toFixed(2)} ms, ${row.cpuPerRequest?.toFixed(0) ?? '?'} µs CPU per request`;

export const ms = (v: number) => v.toFixed(v < 10 ? 2 : 1);

/** The results as markdown, each figure beside its peers. */
export function renderDataPlane(r: DataPlaneResults): string[] {
  const direct = (c: number) => r.llm.find((x) => x.target === 'direct (mock)' && x.connections === c)!;
  // the older build has its own section below, beside today's
  const llm = r.llm.filter((x) => x.target !== LLM_BEFORE);
  const http = r.http.filter((x) => x.target !== HTTP_BEFORE);
  const llmRounds = 2 * r.llm.filter((x) => x.connections === LLM_CONCURRENCY[0]).length;
  const httpRounds = 2 * r.http.length;
  const range = (x: Row) => (x.range ? x.range.map(Math.round).join('–') : '—');
  const cpu = (x: Row) => (x.cpuPerRequest === undefined ? '—' : String(Math.round(x.cpuPerRequest)));
  const lines = [
    '## LLM proxy overhead',
    '',
    `\`POST /v1/chat/completions\` (non-streaming) against a mock OpenAI upstream that answers at once; 2 s warm-up, then 5 s measured per cell by a closed-loop undici client in the benchmark's own process, after a 5 s first pass through each target at concurrency 16, in ${llmRounds} rounds per concurrency that take the targets in turn, each round starting one target later, so each takes each place in the order twice; each row is the target's median round, with the range over the rounds and the median CPU per request (measured as for the HTTP proxy below). Portico: key auth, route match, credential, usage and cost recorded, request log, metrics; database: ${r.database}. Overhead = the proxy's latency minus the direct call's at the same concurrency. On this 2-core machine, where the load generator, the mock, the proxy and PostgreSQL share the cores, figures move by up to about 25% from run to run: compare rows within one run.`,
    '',
    '| concurrency | target | req/s | req/s range | p50 (ms) | p99 (ms) | p50 overhead (ms) | p99 overhead (ms) | CPU per request (µs) | non-2xx |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...llm.map((x) => {
      const d = direct(x.connections);
      const own = x.target === 'direct (mock)';
      return `| ${x.connections} | ${x.target} | ${Math.round(x.rps)} | ${range(x)} | ${ms(x.p50)} | ${ms(x.p99)} | ${own ? '—' : ms(x.p50 - d.p50)} | ${own ? '—' : ms(x.p99 - d.p99)} | ${cpu(x)} | ${x.non2xx + x.errors} |`;
    }),
    '',
    verdictLlm(r),
    '',
    '## HTTP API proxy throughput',
    '',
    `\`GET /svc/items\` at concurrency ${HTTP_CONCURRENCY} against a mock backend that answers at once (same warm-up and duration), in ${httpRounds} rounds that take the targets in turn, each round starting one target later, so each takes each place in the order twice; each row is the target's median round, with the range over all rounds. CPU per request is the CPU time of what serves the target (its process and children; for Portico, PostgreSQL's as well; for the direct calls, the mock's) over a measured run, divided by the requests served, the median over the rounds: it moves far less than throughput when the shared machine slows down. Portico checks the API key, applies the route's rate limit, sets x-forwarded-* and the request id, and records a request log and metrics for every request; the Portico rows run on PostgreSQL, but the one on embedded PGlite (in the gateway's process, counted in its CPU).`,
    '',
    '| target | req/s | req/s range | p50 (ms) | p99 (ms) | CPU per request (µs) | non-2xx |',
    '|---|---|---|---|---|---|---|',
    ...http.map((x) =>
      'missing' in x
        ? `| ${x.target} | — | — | — | — | — | ${x.missing} |`
        : `| ${x.target} | ${Math.round(x.rps)} | ${range(x)} | ${ms(x.p50)} | ${ms(x.p99)} | ${cpu(x)} | ${x.non2xx + x.errors} |`,
    ),
    '',
    verdictHttp(r),
    '',
    'Where the time goes (measured while building it, with the same per-request CPU time and with profiles, not in this',
    "run): Portico's own process costs about what @fastify/http-proxy's does, a little less in most runs, though it",
    'checks the key, counts the rate limit, sets four more headers each way and builds a request-log row. About half of',
    "either process's time is the four socket calls per request (two reads, a write to the backend, a writev to the",
    'client), which cost more than usual in this virtual machine. What Portico pays beyond the peer is PostgreSQL',
    'storing the request-log row, about 5-7 µs per request; that is why it lands a few percent short of the peer in',
    'throughput. nginx costs a quarter of either, and here its throughput is bounded by the load generator and the mock.',
    "What took Portico from 65% of @fastify/http-proxy's throughput to within a few percent of it: the backend's answer",
    'relayed from an undici dispatch handler straight to the socket, rather than a body stream through reply.send;',
    'request-log rows appended with COPY rather than an INSERT from JSON, into a table with two indexes rather than',
    'three; no pino child logger per request; and at the default level a log line for failed requests only (successful',
    'ones log at debug; every request is a request-log row either way).',
    'Those profiles were taken on an AMD EPYC machine, where Portico served 119% of the peer (2026-12-02). On the Intel',
    'Xeon machine of 2026-12-03, Portico and its pre-hardening build alike serve about 90% of the peer at about 10 µs',
    'more CPU per request (see the before-and-after section): not a regression, and not yet profiled on this CPU.',
    '',
  ];
  return r.baseline ? [...lines, ...renderBaseline(r, r.baseline)] : lines;
}

/** The LLM target: Portico's p99 overhead below Portkey's at every concurrency. */
function verdictLlm(r: DataPlaneResults): string {
  const at = (target: string, c: number) => r.llm.find((x) => x.target === target && x.connections === c)!;
  const parts = LLM_CONCURRENCY.map((c) => {
    const d = at('direct (mock)', c).p99;
    const [p, k] = [at(LLM_NOW, c).p99 - d, at('Portkey gateway', c).p99 - d];
    return `c=${c}: ${ms(p)} ms against ${ms(k)} ms (${p < k ? 'met' : 'missed'})`;
  });
  // issue 19: added p99 over the direct call at c=1 within 1 ms, and 10× Portkey's throughput at every concurrency
  const c1 = at(LLM_NOW, 1).p99 - at('direct (mock)', 1).p99;
  const times = LLM_CONCURRENCY.map((c) => {
    const x = at(LLM_NOW, c).rps / at('Portkey gateway', c).rps;
    const ceiling = at('direct (mock)', c).rps / at('Portkey gateway', c).rps;
    return `c=${c}: ${x.toFixed(1)}× (${x >= 10 ? 'met' : 'missed'}; calling the mock directly is ${ceiling.toFixed(1)}×)`;
  });
  // Why c=1 cannot meet the mark here: ten times Portkey's rate is most of what the mock serves with no proxy at all.
  const [direct1, portkey1] = [at('direct (mock)', 1).rps, at('Portkey gateway', 1).rps];
  const reach =
    at(LLM_NOW, 1).rps < 10 * portkey1
      ? ` At concurrency 1 the mark is out of reach of any proxy here: 10× Portkey's ${Math.round(portkey1)} req/s is ${Math.round(10 * portkey1)} req/s, ${((1000 * portkey1) / direct1).toFixed(0)}% of calling the mock with no proxy at all (${Math.round(direct1)} req/s), while a proxy adds a hop of its own (two more socket reads and writes per request, the costliest calls on this virtual machine).`
      : '';
  return [
    `Target, Portico's p99 overhead below Portkey's at every concurrency: ${parts.join('; ')}.`,
    `Target (issue 19), added p99 over a direct call at concurrency 1 ≤ 1 ms: ${ms(c1)} ms (${c1 <= 1 ? 'met' : 'missed'}); throughput ≥ 10× Portkey's: ${times.join('; ')}.${reach}`,
  ].join('\n\n');
}

/**
 * The HTTP targets, as decided: Portico with every check and the request-log row on keeps within 5% of bare
 * @fastify/http-proxy's throughput, with a p99 no more than half above the peer's; half of nginx's is a goal beyond.
 */
function verdictHttp(r: DataPlaneResults): string {
  const row = (prefix: string) =>
    r.http.find((x) => x.target.startsWith(prefix) && !('missing' in x)) as Row | undefined;
  const [portico, fastify, nginx] = [row(HTTP_NOW), row('@fastify'), row('nginx')];
  if (!portico || !fastify) return '';
  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(1)}%`;
  const verdict = (met: boolean) => (met ? 'met' : 'missed');
  const throughput = `${pct(portico.rps, fastify.rps)} of bare @fastify/http-proxy's throughput (target: ≥ 95%, ${verdict(portico.rps >= 0.95 * fastify.rps)})`;
  const p99 = `p99 ${portico.p99.toFixed(1)} ms against ${fastify.p99.toFixed(1)} ms (target: ≤ 1.5×, ${verdict(portico.p99 <= 1.5 * fastify.p99)})`;
  const ofNginx = nginx
    ? ` and ${pct(portico.rps, nginx.rps)} of nginx's (goal: 50%, ${verdict(portico.rps * 2 >= nginx.rps)})`
    : '';
  const embedded = row(HTTP_EMBEDDED);
  const tail = embedded
    ? ` On its embedded PGlite (the database in a worker thread of the gateway), p99 ${embedded.p99.toFixed(1)} ms against the peer's ${fastify.p99.toFixed(1)} ms: ${(embedded.p99 / fastify.p99).toFixed(2)}× (target: ≤ 1.5×, ${verdict(embedded.p99 <= 1.5 * fastify.p99)}), ${pct(embedded.rps, fastify.rps)} of its throughput.`
    : '';
  return `Portico with every check on serves ${throughput}, ${p99}${ofNginx}.${tail}`;
}
