import type { Gateway } from '../gateway';

/** A label set as its Prometheus text (`{kind="llm",status="200"}`), which is also its key. */
function labelText(names: readonly string[], values: readonly (string | number)[]): string {
  if (!names.length) return '';
  return `{${names.map((n, i) => `${n}="${String(values[i]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

/** A monotonically increasing count per label set. */
export class Counter {
  /** Keyed by the label values joined (cheap on the hot path); formatted only when scraped. */
  private readonly series = new Map<string, { values: readonly (string | number)[]; n: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labels: readonly string[],
  ) {}

  inc(values: readonly (string | number)[], by = 1): void {
    const key = values.join('\u0000');
    const s = this.series.get(key);
    if (s) s.n += by;
    else this.series.set(key, { values, n: by });
  }

  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} counter`,
      ...[...this.series.values()].map((s) => `${this.name}${labelText(this.labels, s.values)} ${s.n}`),
    ];
  }
}

/** Observations counted into cumulative buckets, with their sum and count, per label set. */
export class Histogram {
  private readonly series = new Map<
    string,
    { counts: number[]; sum: number; count: number; values: readonly (string | number)[] }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labels: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  observe(values: readonly (string | number)[], v: number): void {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0, values }));
    // counted in the first bucket that holds it; render() makes the counts cumulative, as Prometheus wants
    let i = 0;
    while (i < this.buckets.length && v > this.buckets[i]!) i++;
    if (i < this.buckets.length) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      const key = labelText(this.labels, s.values);
      let cumulative = 0;
      this.buckets.forEach((b, i) =>
        lines.push(
          `${this.name}_bucket${labelText([...this.labels, 'le'], [...s.values, b])} ${(cumulative += s.counts[i]!)}`,
        ),
      );
      lines.push(`${this.name}_bucket${labelText([...this.labels, 'le'], [...s.values, '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${key} ${s.sum}`, `${this.name}_count${key} ${s.count}`);
    }
    return lines;
  }
}

/** A value read when scraped: a gauge, or a counter kept by something else (a batch writer's drops). */
export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labels: readonly string[],
    private readonly read: () => [readonly (string | number)[], number][],
    private readonly type: 'gauge' | 'counter' = 'gauge',
  ) {}

  render(): string[] {
    const lines = this.read().map(([values, v]) => `${this.name}${labelText(this.labels, values)} ${v}`);
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...lines];
  }
}

/** Anything with metrics to show at `GET /metrics`. */
export interface MetricSource {
  /** Prometheus text; a primary of PORTICO_WORKERS gathers its workers' (server/cluster/metrics.ts). */
  render(): string | Promise<string>;
}

/** The sources of each gateway: the data plane it runs, if any (one gateway per process outside tests). */
const sources = new WeakMap<Gateway, Set<MetricSource>>();

/** A gateway's metric sources, which a data plane joins when it starts and leaves when it stops. */
export function metricSources(gw: Gateway): Set<MetricSource> {
  let set = sources.get(gw);
  if (!set) sources.set(gw, (set = new Set()));
  return set;
}

/** The Prometheus text of this process's own sources. */
export async function ownMetrics(gw: Gateway): Promise<string> {
  return (await Promise.all([...metricSources(gw)].map((s) => s.render()))).join('');
}

/** Where a gateway's `/metrics` comes from, when not from its own sources alone (see {@link gatherMetricsWith}). */
const gatherers = new WeakMap<Gateway, () => Promise<string>>();

/**
 * Makes `/metrics` of this gateway the node's, gathered by `gather`: a data-plane worker of a data node serves the
 * scrape on the shared port, and asks its primary for every worker's (server/cluster/worker.ts).
 */
export function gatherMetricsWith(gw: Gateway, gather: () => Promise<string>): void {
  gatherers.set(gw, gather);
}

/** What `GET /metrics` answers: the node's metrics. */
export function nodeMetrics(gw: Gateway): Promise<string> {
  return (gatherers.get(gw) ?? (() => ownMetrics(gw)))();
}

/** The data plane's metrics, in the Prometheus text format at `GET /metrics`. */
export class DataPlaneMetrics {
  readonly requests = new Counter(
    'portico_requests_total',
    'Data-plane requests by kind (llm, http), tenant and status code.',
    ['kind', 'tenant', 'status'],
  );
  readonly latency = new Histogram(
    'portico_request_duration_seconds',
    'Data-plane request latency, end to end, in seconds.',
    ['kind'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  readonly upstreamErrors = new Counter(
    'portico_upstream_errors_total',
    'Failed upstream calls (connect error, timeout, 5xx) by upstream and reason.',
    ['upstream', 'reason'],
  );
  readonly throttled = new Counter(
    'portico_throttled_total',
    'Requests refused by a rate limit, quota or budget, by tenant and reason.',
    ['tenant', 'reason'],
  );
  private readonly gauges: Gauge[] = [];

  addGauge(gauge: Gauge): void {
    this.gauges.push(gauge);
  }

  render(): string {
    return [
      ...this.requests.render(),
      ...this.latency.render(),
      ...this.upstreamErrors.render(),
      ...this.throttled.render(),
      ...this.gauges.flatMap((g) => g.render()),
      '',
    ].join('\n');
  }
}
