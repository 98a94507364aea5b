import { Pool } from 'undici';

/** One measured cell: throughput, latency percentiles in milliseconds (microsecond resolution), failures. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** CPU time the measured server spent per request, in microseconds, when a meter was given. */
  cpuPerRequest?: number;
}

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
}

/**
 * A client for one load: a keep-alive pool of `connections`, a `send` that times one request from hrtime (so
 * sub-millisecond figures are real; autocannon rounds to whole milliseconds) and counts its failures, and the
 * result over the time elapsed since `started`, once the pool is closed.
 */
function client(spec: LoadSpec) {
  const url = new URL(spec.url);
  const pool = new Pool(url.origin, { connections: spec.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  const send = async () => {
    const t0 = process.hrtime.bigint();
    try {
      const res = await pool.request({
        path: url.pathname + url.search,
        method: spec.method ?? 'GET',
        headers: spec.headers,
        body: spec.body,
      });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } catch {
      errors++;
    }
  };
  const finish = async (): Promise<LoadResult> => {
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    await pool.close();
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), requests: latencies.length, non2xx, errors };
  };
  return { send, started, finish };
}

/**
 * Closed-loop load: `connections` keep-alive connections, each sending its next request as soon as the last
 * answer is read, for `seconds`. Bounded by its duration.
 */
async function run(spec: LoadSpec, seconds: number): Promise<LoadResult> {
  const { send, finish } = client(spec);
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) await send();
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  return finish();
}

/**
 * A warm-up (connections opened, code paths optimized), then the measured run. `meter`, when given, reads the
 * server's CPU time so far (microseconds); its growth over the measured run is reported per request.
 */
export async function measureLoad(
  spec: LoadSpec,
  seconds = 5,
  warmupSeconds = 2,
  meter?: () => number | undefined,
): Promise<LoadResult> {
  await run(spec, warmupSeconds);
  const before = meter?.();
  const result = await run(spec, seconds);
  const after = meter?.();
  if (before !== undefined && after !== undefined && result.requests)
    result.cpuPerRequest = (after - before) / result.requests;
  return result;
}

/** Load that is not measured: a freshly started server's first requests compile its code paths. */
export async function warmUp(spec: LoadSpec, seconds: number): Promise<void> {
  await run(spec, seconds);
}

/**
 * Open-loop load: requests sent at a fixed `rate` per second for `seconds`, each on schedule whether or not earlier
 * ones have been answered (up to `connections` at once; beyond that undici queues them, and the wait counts in their
 * latency). Both builds driven at one rate do the same work per second, so their CPU per request compares like with
 * like, where closed-loop throughput leans on how the shared cores happen to be split. Latency from each request's
 * send; the run ends once every request sent has been answered.
 */
export async function openLoop(
  spec: LoadSpec,
  rate: number,
  seconds: number,
  meter?: () => number | undefined,
): Promise<LoadResult & { sent: number }> {
  const cpuBefore = meter?.();
  const { send, started, finish } = client(spec);
  const total = Math.round(rate * seconds);
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    // timers fire no finer than a millisecond: sleep only when the next send is that far off, else send at once
    const wait = (i * 1000) / rate - Number(process.hrtime.bigint() - started) / 1e6;
    if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(send());
  }
  await Promise.all(inFlight);
  const cpuAfter = meter?.();
  const result = { ...(await finish()), sent: total };
  return cpuBefore !== undefined && cpuAfter !== undefined && result.requests
    ? { ...result, cpuPerRequest: (cpuAfter - cpuBefore) / result.requests }
    : result;
}
