import { type Checkout } from './portico';
import { type DataPlaneResults, type Row } from './proxies';

/** The target names of the two builds, in the LLM phase and in the HTTP phase. */
export const LLM_NOW = 'Portico';
export const LLM_BEFORE = 'Portico before';
export const HTTP_NOW = 'Portico (key auth + rate limit + logs + metrics)';
export const HTTP_BEFORE = 'Portico before (same route, key and checks)';

/** The section's heading: the same whatever the commits, so a later run replaces it. */
export const BASELINE_HEADING = "## Before and after: today's build against an older one";

/** The acceptance line of issues 11 and 12: today's build serves at least 95% of the older build's throughput. */
const GOAL = 0.95;

export interface BaselineRun {
  now: Checkout;
  before: Checkout;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (v: number) => v.toFixed(v < 10 ? 2 : 1);
const µs = (v: number | undefined) => (v === undefined ? '—' : String(Math.round(v)));
const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One hot path measured on both builds in the same rounds. */
interface Pair {
  path: string;
  now: Row;
  before: Row;
}

/**
 * The throughput ratio of the medians, with the range of the per-round ratios: both builds ran in each round, close
 * in time, so a round's ratio is what a slow spell of the shared machine disturbs least.
 */
function verdict({ path, now, before }: Pair): string {
  const ratio = now.rps / before.rps;
  const perRound = (now.roundRps ?? []).flatMap((rps, i) => {
    const other = before.roundRps?.[i];
    return other ? [rps / other] : [];
  });
  const rounds = perRound.length
    ? `, per round ${pct(Math.min(...perRound))}–${pct(Math.max(...perRound))}, median ${pct(middle(perRound))}`
    : '';
  const cpu =
    now.cpuPerRequest !== undefined && before.cpuPerRequest !== undefined
      ? `CPU/req now/before = ${pct(now.cpuPerRequest / before.cpuPerRequest)} (${µs(now.cpuPerRequest)} vs ${µs(before.cpuPerRequest)} µs)`
      : 'CPU/req now/before = — (no /proc)';
  return `- ${path}: throughput now/before = ${pct(ratio)} (goal ≥ 95%, ${ratio >= GOAL ? 'met' : 'missed'}${rounds}); ${cpu}; p99 ${ms(now.p99)} vs ${ms(before.p99)} ms.`;
}

/** The pairs of rows of both builds, LLM cells first, then the HTTP proxy. */
function pairs(r: DataPlaneResults): Pair[] {
  const llm = (target: string, c: number) => r.llm.find((x) => x.target === target && x.connections === c);
  const http = (target: string) => r.http.find((x): x is Row => x.target === target && !('missing' in x));
  const found: Pair[] = [];
  for (const c of [...new Set(r.llm.map((x) => x.connections))]) {
    const [now, before] = [llm(LLM_NOW, c), llm(LLM_BEFORE, c)];
    if (now && before) found.push({ path: `LLM proxy, concurrency ${c}`, now, before });
  }
  const [now, before] = [http(HTTP_NOW), http(HTTP_BEFORE)];
  if (now && before) found.push({ path: `HTTP API proxy, concurrency ${now.connections}`, now, before });
  return found;
}

/** The before-and-after section: both builds' rows side by side and a verdict line per hot path. */
export function renderBaseline(r: DataPlaneResults, run: BaselineRun): string[] {
  const found = pairs(r);
  const row = (path: string, build: string, x: Row) =>
    `| ${path} | ${build} | ${Math.round(x.rps)} | ${x.range ? x.range.map(Math.round).join('–') : '—'} | ${ms(x.p50)} | ${ms(x.p99)} | ${µs(x.cpuPerRequest)} | ${x.non2xx + x.errors} |`;
  return [
    BASELINE_HEADING,
    '',
    `Today's build (${run.now.commit}) against the older one (${run.before.commit}, from \`PORTICO_BENCH_BASELINE\`), measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by the proxies run that wrote the LLM and HTTP sections of that day. Both builds ran at once, each from its own checkout (\`node <checkout>/cli/portico.js serve\`), configured alike over their admin APIs, each with its own database in the same ${r.database}. They took part in the same interleaved rounds as the peers above, so a slow spell of the shared machine falls on both; each row is the build's median round, with the range over the rounds, and CPU per request counts the build's process and PostgreSQL less the other build's backends. The goal, from issues 11 and 12: today's build keeps at least 95% of the older one's throughput on every hot path.`,
    '',
    '| hot path | build | req/s | req/s range | p50 (ms) | p99 (ms) | CPU per request (µs) | non-2xx |',
    '|---|---|---|---|---|---|---|---|',
    ...found.flatMap((p) => [
      row(p.path, `now (${run.now.commit})`, p.now),
      row(p.path, `before (${run.before.commit})`, p.before),
    ]),
    '',
    ...found.map(verdict),
  ];
}
