import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Gateway } from '../../gateway';
import {
  GRANULARITIES,
  dropRollupsBefore,
  markRolledThrough,
  oldestRequestSince,
  rollUpBuckets,
  rollupDoneThrough,
  tryRollupLock,
  type Granularity,
} from '../../store/metric-rollups';

/** The longest period the portal shows: older buckets are dropped, and a first run starts no earlier. */
export const KEPT_MS = 7 * 24 * 3600_000;

export interface RollupOptions {
  /** Between runs (default 60 s). */
  intervalMs?: number;
  /** A bucket is rolled up once it ended this long ago, so the data plane's batched writes have landed (60 s). */
  settleMs?: number;
  /** Each run also recomputes the buckets that ended within this span, for rows written late (10 min). */
  lookbackMs?: number;
  /** New buckets per granularity per run at most, so catching up after a long stop is spread over runs (48). */
  maxBuckets?: number;
}

/** What one run did for one granularity: the bucket starts it (re)computed lie in [from, to). */
export interface RollupRun {
  granularity: Granularity;
  from: Date;
  to: Date;
  rows: number;
}

const floorTo = (ms: number, widthMs: number) => Math.floor(ms / widthMs) * widthMs;

/**
 * Rolls request logs up into per-tenant metric buckets (5-minute and hourly), so the portal's metrics read a few
 * rows instead of scanning raw logs. Runs on control nodes; where it got to is kept in the database, so it resumes
 * after a restart, and a run takes an advisory lock, so two control nodes never roll up at once. Every run replaces
 * the buckets it computes: running it again gives the same rows.
 */
export class RollupJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly intervalMs: number;
  private readonly settleMs: number;
  private readonly lookbackMs: number;
  private readonly maxBuckets: number;

  constructor(
    private readonly gw: Gateway,
    options: RollupOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.settleMs = options.settleMs ?? 60_000;
    this.lookbackMs = options.lookbackMs ?? 10 * 60_000;
    this.maxBuckets = options.maxBuckets ?? 48;
  }

  start(): void {
    const tick = () => {
      this.running = this.runOnce().catch((err) => this.gw.log.warn({ err }, 'metrics roll-up failed'));
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One run at `now`: each granularity in its own transaction; an empty list when another node holds the lock. */
  async runOnce(now = Date.now()): Promise<RollupRun[]> {
    const runs: RollupRun[] = [];
    for (const granularity of Object.keys(GRANULARITIES) as Granularity[]) {
      const run = await this.gw.db.transaction().execute(async (tx) => {
        if (!(await tryRollupLock(tx))) return undefined;
        const range = await this.rangeToRoll(tx, granularity, now);
        if (!range) return undefined;
        const rows = await rollUpBuckets(tx, granularity, range.from, range.to);
        await markRolledThrough(tx, granularity, range.to);
        await dropRollupsBefore(tx, new Date(now - KEPT_MS - 3600_000));
        return { granularity, ...range, rows };
      });
      if (run) runs.push(run);
    }
    return runs;
  }

  /** The bucket starts to compute: the look-back, then new closed buckets from where the last run ended. */
  private async rangeToRoll(
    tx: Parameters<typeof rollUpBuckets>[0],
    granularity: Granularity,
    now: number,
  ): Promise<{ from: Date; to: Date } | undefined> {
    const width = GRANULARITIES[granularity] * 1000;
    const closedUntil = floorTo(now - this.settleMs, width);
    const keptFrom = floorTo(now - KEPT_MS, width);
    let done = (await rollupDoneThrough(tx, granularity))?.getTime();
    if (done === undefined) {
      const oldest = await oldestRequestSince(tx, new Date(keptFrom));
      done = oldest ? floorTo(oldest.getTime(), width) : closedUntil;
    }
    done = Math.max(done, keptFrom);
    const from = Math.max(floorTo(done - this.lookbackMs, width), keptFrom);
    const to = Math.min(closedUntil, done + this.maxBuckets * width);
    return to > from ? { from: new Date(from), to: new Date(to) } : undefined;
  }
}

/** Registered on a control node's admin app: the roll-up runs while the app runs. */
export const metricsRollupJob = fp(
  async (app: FastifyInstance, { gw, ...options }: { gw: Gateway } & RollupOptions) => {
    const job = new RollupJob(gw, options);
    app.addHook('onReady', async () => job.start());
    app.addHook('onClose', () => job.stop());
  },
  { name: 'portico-metrics-rollup-job' },
);
