/** A window a counter lives in: a fixed span from its first hit, or a UTC calendar day or month. */
export type LimitWindow = { type: 'span'; ms: number } | { type: 'calendar'; unit: 'day' | 'month' };

/** A counter as a node sees it: its count in the window that holds now, and when that window ends (epoch ms). */
export interface WindowCount {
  count: number;
  resetAt: number;
  /**
   * The node has admitted as many requests on this counter as it may before the shared store confirms them
   * (PORTICO_REDIS_BATCH): it refuses more for the few milliseconds until it hears back.
   */
  held?: boolean;
}

/**
 * Where the limiter keeps its counts: in this process's memory, or shared by every node (server/data/counter-store-redis.ts).
 * `read` and `add` are the hot path and never wait; a shared store answers them from what it last heard and sends
 * its counts in batches.
 */
export interface CounterStore {
  /** Ready to count (a shared store waits a moment for its server). */
  start(): Promise<void>;
  /**
   * The count under `key` in the window that holds `now` (a new window at zero when it has none); `limit`, the rule's,
   * lets a shared store hold a counter only where it could pass the limit.
   */
  read(key: string, window: LimitWindow, now: number, limit?: number): WindowCount;
  /** Counts one admitted request under `key`, read just before in the same turn. */
  add(key: string, window: LimitWindow, now: number): void;
  /** Starts a counter at `count` unless it holds more (quotas read back from request logs at start-up). */
  seed(key: string, count: number, window: LimitWindow, now: number): void;
  /** The counts under `keys` in their current windows (undefined: none), as every node sharing the store sees them. */
  peekMany(keys: string[], now: number): Promise<(number | undefined)[]>;
  /** A shared store: resolves once the counts it sent last have been answered (a held counter may be free again). */
  confirmed?(): Promise<void>;
  /** Forgets the counts under `keys` wherever they are kept; true when any was there. */
  resetMany(keys: string[]): Promise<boolean>;
  stop(): Promise<void>;
}

const DAY_MS = 86_400_000;

/** When a window that holds `now` ends. */
export function windowEnd(window: LimitWindow, now: number): number {
  if (window.type === 'span') return now + window.ms;
  const d = new Date(now);
  if (window.unit === 'day') return Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * Counts in this process's memory: each node (and worker) counts on its own. A span window starts at its first
 * request and restarts after `ms` (like @fastify/rate-limit's local store); calendar windows follow UTC days and months.
 */
export class MemoryCounts implements CounterStore {
  private readonly counters = new Map<string, WindowCount>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepMs).unref();
  }

  async start(): Promise<void> {}

  read(key: string, window: LimitWindow, now: number): WindowCount {
    const c = this.counters.get(key);
    return c && c.resetAt > now ? c : { count: 0, resetAt: windowEnd(window, now) };
  }

  /** Counts `n` (1 unless a worker's batch arrives: server/cluster/primary-counts.ts). */
  add(key: string, window: LimitWindow, now: number, n = 1): void {
    const c = this.read(key, window, now);
    c.count += n;
    this.counters.set(key, c);
  }

  seed(key: string, count: number, window: LimitWindow, now: number): void {
    const c = this.counters.get(key);
    if (c && c.resetAt > now) c.count = Math.max(c.count, count);
    else this.counters.set(key, { count, resetAt: windowEnd(window, now) });
  }

  /** The count under `key` now, or undefined when it has none (never hit, or its window ended). */
  peek(key: string, now: number): number | undefined {
    const c = this.counters.get(key);
    return c && c.resetAt > now ? c.count : undefined;
  }

  async peekMany(keys: string[], now: number): Promise<(number | undefined)[]> {
    return keys.map((key) => this.peek(key, now));
  }

  /** Forgets `key`: the next request starts a new window at zero. */
  reset(key: string): boolean {
    return this.counters.delete(key);
  }

  clear(): void {
    this.counters.clear();
  }

  async resetMany(keys: string[]): Promise<boolean> {
    let any = false;
    for (const key of keys) any = this.reset(key) || any;
    return any;
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private sweep(now = Date.now()): void {
    for (const [key, c] of this.counters) if (c.resetAt <= now) this.counters.delete(key);
  }
}
