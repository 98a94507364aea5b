import { type FixedRatePath, type FixedRateRound } from './fixedrate';
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
/** The same goal read as cost: at one request rate, today's build spends at most 5% more CPU per request. */
const CPU_GOAL = 1.05;

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
    ...(r.fixedRate ? ['', ...renderFixedRate(r.fixedRate, run)] : []),
  ];
}

/** A build's rounds at the fixed rate: the medians, and the range of CPU per request. */
function summary(rounds: FixedRateRound[]) {
  const cpu = rounds.flatMap((x) => (x.cpuPerRequest === undefined ? [] : [x.cpuPerRequest]));
  return {
    cpu: cpu.length ? middle(cpu) : undefined,
    cpuRange: cpu.length ? `${µs(Math.min(...cpu))}–${µs(Math.max(...cpu))}` : '—',
    p50: middle(rounds.map((x) => x.p50)),
    p99: middle(rounds.map((x) => x.p99)),
    rps: middle(rounds.map((x) => x.rps)),
    failed: rounds.reduce((n, x) => n + x.failed, 0),
    sent: rounds.reduce((n, x) => n + x.sent, 0),
  };
}

/**
 * The fixed-rate pass: at one request rate both builds do the same work per second, so CPU per request compares
 * like with like; closed-loop throughput instead moves with how the two shared cores happen to be split.
 */
function renderFixedRate(paths: FixedRatePath[], run: BaselineRun): string[] {
  const first = paths[0];
  const rounds = first ? first.now.length : 0;
  const row = (p: FixedRatePath, build: string, s: ReturnType<typeof summary>) =>
    `| ${p.path} | ${p.rate} | ${build} | ${µs(s.cpu)} | ${s.cpuRange} | ${Math.round(s.rps)} | ${ms(s.p50)} | ${ms(s.p99)} | ${s.failed} of ${s.sent} |`;
  const verdictAt = (p: FixedRatePath) => {
    const [now, before] = [summary(p.now), summary(p.before)];
    if (now.cpu === undefined || before.cpu === undefined)
      return `- ${p.path}: CPU/req at ${p.rate} req/s now/before = — (no /proc)`;
    const ratio = now.cpu / before.cpu;
    const perRound = p.now.flatMap((x, i) => {
      const other = p.before[i]?.cpuPerRequest;
      return x.cpuPerRequest !== undefined && other ? [x.cpuPerRequest / other] : [];
    });
    // a rate one build could not keep up with would read its cost at another load than the other's
    const comfortable = (s: typeof now, saturatedP50 = Infinity) =>
      s.rps >= 0.95 * p.rate && s.failed === 0 && s.p50 < saturatedP50;
    const kept = comfortable(now, p.saturatedP50?.now) && comfortable(before, p.saturatedP50?.before);
    return `- ${p.path}: CPU/req at ${p.rate} req/s now/before = ${pct(ratio)} (goal ≤ 105%, ${ratio <= CPU_GOAL ? 'met' : 'missed'}; ${µs(now.cpu)} vs ${µs(before.cpu)} µs${perRound.length ? `; per round ${pct(Math.min(...perRound))}–${pct(Math.max(...perRound))}` : ''})${kept ? '' : '; NOT comfortable for both builds (fewer answers than the rate, failures, or a median p50 above the closed-loop p50 at 64 connections): requests queued, read with care, or set a lower rate'}.`;
  };
  return [
    `At a fixed request rate: both builds driven open-loop at the same rate per hot path (${paths.map((p) => `${p.path} ${p.rate} req/s`).join(', ')}; a rate both sustain comfortably, 60% of the slower build's closed-loop throughput above unless set by \`PORTICO_BENCH_FIXED_RATE_LLM\` / \`_HTTP\`), 64 connections, in ${rounds} rounds that alternate which build goes first (now, before, before, now, …), each measurement ${first?.seconds ?? 0} s after ${first?.warmupSeconds ?? 0} s unmeasured at the same rate. CPU per request is counted as above (the build's process and PostgreSQL less the other build's backends); the row gives its median and range over the rounds, the medians over the rounds of answers per second and latency, and the failed requests over all rounds. A verdict is marked not comfortable when a build answered under 95% of the rate, failed requests, or had a median p50 above its own closed-loop p50 at 64 connections (requests queued as at saturation). Doing the same work per second, the builds' CPU per request is steady from run to run where closed-loop throughput is not.`,
    '',
    '| hot path | rate (req/s) | build | CPU per request (µs), median | CPU per request range | answered req/s | p50 (ms) | p99 (ms) | failed |',
    '|---|---|---|---|---|---|---|---|---|',
    ...paths.flatMap((p) => [
      row(p, `now (${run.now.commit})`, summary(p.now)),
      row(p, `before (${run.before.commit})`, summary(p.before)),
    ]),
    '',
    ...paths.map(verdictAt),
  ];
}
