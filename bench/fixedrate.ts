import { openLoop, type LoadSpec } from './load';

/** How long the fixed-rate pass runs: the full pass by default, a few short rounds for a smoke run. */
export interface FixedRateSettings {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  /** The share of the slower build's closed-loop throughput to drive both at, unless a rate is given. */
  share: number;
  /** Rates set by hand (`PORTICO_BENCH_FIXED_RATE_LLM` / `_HTTP`), else derived from the closed-loop rounds. */
  llmRate?: number;
  httpRate?: number;
}

/**
 * 6 rounds of 1 s warm-up and 5 s measured per build and hot path: 2 × 2 × 6 × 6 s = 144 s, inside the 3 minutes the
 * pass may take. `PORTICO_BENCH_SMOKE=1` runs 2 rounds of 1 s, to try the code, not to read the figures.
 */
export function fixedRateSettings(env: NodeJS.ProcessEnv = process.env): FixedRateSettings {
  const rate = (name: string) => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${value}: a positive number of requests per second`);
    return n;
  };
  const smoke = env.PORTICO_BENCH_SMOKE === '1';
  return {
    rounds: smoke ? 2 : 6,
    seconds: smoke ? 1 : 5,
    warmupSeconds: smoke ? 0.5 : 1,
    share: 0.6,
    llmRate: rate('PORTICO_BENCH_FIXED_RATE_LLM'),
    httpRate: rate('PORTICO_BENCH_FIXED_RATE_HTTP'),
  };
}

/** The rate for a hot path: the one set by hand, else a share of the slower build's throughput, to 50 req/s. */
export function chooseRate(set: number | undefined, share: number, slowerRps: number): number {
  return set ?? Math.max(50, Math.round((share * slowerRps) / 50) * 50);
}

/** One build's measured rounds at the fixed rate. */
export interface FixedRateRound {
  cpuPerRequest?: number;
  p50: number;
  p99: number;
  /** Answers per second over the round, from the first send to the last answer. */
  rps: number;
  sent: number;
  answered: number;
  failed: number;
}

/** A build on one hot path: its load and the meter of its process and its share of PostgreSQL. */
export interface FixedRateBuild {
  load: LoadSpec;
  meter: () => number | undefined;
}

export interface FixedRatePath {
  path: string;
  rate: number;
  /** Each measurement's length and its unmeasured lead-in, in seconds. */
  seconds: number;
  warmupSeconds: number;
  /**
   * Each build's closed-loop p50 at the same connections: a build at saturation. A median p50 at the fixed rate
   * above it means the rate was not comfortable for that build (requests queued), and its cost is read elsewhere.
   */
  saturatedP50?: { now: number; before: number };
  now: FixedRateRound[];
  before: FixedRateRound[];
}

/**
 * Both builds of each hot path driven at the same open-loop rate, in rounds that alternate which goes first
 * (now, before, before, now, …), so a slow spell of the shared machine and the garbage one leaves behind fall on
 * both alike. Each measurement has its own unmeasured warm-up at that rate: it settles what the previous load (the
 * other build's, or the closed-loop rounds) left behind in PostgreSQL.
 */
export async function fixedRatePass(
  paths: {
    path: string;
    rate: number;
    saturatedP50?: FixedRatePath['saturatedP50'];
    now: FixedRateBuild;
    before: FixedRateBuild;
  }[],
  settings: FixedRateSettings,
  log: (line: string) => void,
): Promise<FixedRatePath[]> {
  const results: FixedRatePath[] = [];
  for (const { path, rate, saturatedP50, now, before } of paths) {
    const { seconds, warmupSeconds } = settings;
    const result: FixedRatePath = { path, rate, seconds, warmupSeconds, saturatedP50, now: [], before: [] };
    for (let round = 1; round <= settings.rounds; round++) {
      const order = round % 2 ? (['now', 'before'] as const) : (['before', 'now'] as const);
      for (const build of order) {
        const { load, meter } = build === 'now' ? now : before;
        await openLoop(load, rate, settings.warmupSeconds);
        const r = await openLoop(load, rate, settings.seconds, meter);
        const measured: FixedRateRound = {
          cpuPerRequest: r.cpuPerRequest,
          p50: r.p50,
          p99: r.p99,
          rps: r.rps,
          sent: r.sent,
          answered: r.requests - r.non2xx,
          failed: r.non2xx + r.errors,
        };
        result[build].push(measured);
        log(
          `fixed ${path} @${rate}/s round ${round} ${build}: ${measured.cpuPerRequest?.toFixed(1) ?? '?'} µs CPU per request, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${measured.failed} failed of ${r.sent}`,
        );
      }
    }
    results.push(result);
  }
  return results;
}
