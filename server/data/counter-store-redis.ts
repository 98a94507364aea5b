import type Redis from 'ioredis';
import type { RedisSettings } from '../config';
import { ApiError } from '../errors';
import { MemoryCounts, windowEnd, type CounterStore, type LimitWindow, type WindowCount } from './counter-store';

/** Where the counters live in Redis: one string per rule key, expiring with its window. */
const PREFIX = 'portico:limit:';

/**
 * Adds ARGV[1] (0: only reads) to a counter and gives back its count and milliseconds left. The first hit of a
 * window sets its expiry (ARGV[2] ms), so a span window starts at the cluster's first request, as on one node.
 */
const COUNT_SCRIPT = `
local n = tonumber(ARGV[1])
local count
if n > 0 then
  count = redis.call('INCRBY', KEYS[1], n)
  if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
else
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
end
return {count, redis.call('PTTL', KEYS[1])}
`;

/** One counter as this node knows it: the shared count last heard, and what it admitted since. */
interface Entry {
  window: LimitWindow;
  resetAt: number;
  /** The count Redis last answered. */
  shared: number;
  /** Admitted here, not yet sent. */
  pending: number;
  /** Sent, not yet answered. */
  sending: number;
  /** Read since the last flush: its shared count is worth refreshing. */
  touched: boolean;
}

type CountingRedis = Redis & { porticoCount(key: string, n: number, ttlMs: number): Promise<[number, number]> };

/** What the store tells its owner: Redis went away or came back (for the log and `portico_redis_up`). */
export type RedisStateListener = (up: boolean, reason: string) => void;

/**
 * Counts shared by every node through Redis, with local batching: a request is decided at once on the shared count
 * last heard plus what this node admitted since, and the node sends its counts every `flushMs` (sooner when a counter
 * has `batch` unconfirmed). Each node admits at most `batch` requests per counter that Redis has not confirmed,
 * so N nodes let at most N × batch through beyond a limit per window.
 * When Redis is down or slower than `timeoutMs`, the node counts in memory on its own (seeded with what it last
 * heard) and goes back to the shared counts when Redis answers again, adding to them what it admitted meanwhile.
 */
export class RedisCounts implements CounterStore {
  private readonly redis: CountingRedis;
  private readonly entries = new Map<string, Entry>();
  private readonly local = new MemoryCounts();
  /** What this node admitted while Redis was away, per counter and window: added to the shared counts on return. */
  private readonly whileDown = new Map<string, { n: number; window: LimitWindow; resetAt: number }>();
  private readonly ticker: NodeJS.Timeout;
  private flushing = false;
  private again = false;
  private stopped = false;
  up = false;

  constructor(
    private readonly settings: RedisSettings,
    private readonly onState: RedisStateListener = () => {},
  ) {
    // ioredis is loaded when a node counts in Redis, not by every start (~25 ms of module load)
    const RedisClient = (require('ioredis') as { default: typeof Redis }).default;
    this.redis = new RedisClient(settings.url, {
      lazyConnect: false,
      enableOfflineQueue: false, // a command while disconnected fails at once: the node counts locally instead
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1000, settings.timeoutMs),
      commandTimeout: settings.timeoutMs,
      retryStrategy: (times) => Math.min(100 * times, 1000), // keep trying, at least once a second
    }) as CountingRedis;
    this.redis.defineCommand('porticoCount', { numberOfKeys: 1, lua: COUNT_SCRIPT });
    this.redis.on('ready', () => void this.probe());
    this.redis.on('close', () => this.down('connection closed'));
    this.redis.on('error', () => {}); // reported by 'close' and failed commands; the error may name the URL
    this.ticker = setInterval(() => void (this.up ? this.flush() : this.probe()), settings.flushMs).unref();
  }

  /** Waits (at most the connect timeout) for Redis, so that a node starts on shared counts when it can. */
  async start(): Promise<void> {
    const deadline = Date.now() + Math.max(1000, this.settings.timeoutMs);
    while (!this.up && !this.stopped && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!this.up) this.onState(false, 'unreachable at start');
  }

  read(key: string, window: LimitWindow, now: number): WindowCount {
    if (!this.up) return this.local.read(key, window, now);
    const e = this.entry(key, window, now);
    e.touched = true;
    const unconfirmed = e.pending + e.sending;
    return { count: e.shared + unconfirmed, resetAt: e.resetAt, held: unconfirmed >= this.settings.batch };
  }

  add(key: string, window: LimitWindow, now: number): void {
    if (!this.up) return this.addAlone(key, window, now);
    const e = this.entry(key, window, now);
    e.pending++;
    if (e.pending + e.sending >= this.settings.batch) this.kick();
  }

  private addAlone(key: string, window: LimitWindow, now: number): void {
    this.local.add(key, window, now);
    const { resetAt } = this.local.read(key, window, now);
    const alone = this.whileDown.get(key);
    if (alone && alone.resetAt === resetAt) alone.n++;
    else this.whileDown.set(key, { n: 1, window, resetAt });
  }

  /** Quotas live in Redis: nothing is counted back from request logs (and while Redis is down, this node's own). */
  seed(key: string, count: number, window: LimitWindow, now: number): void {
    if (!this.up) this.local.seed(key, count, window, now);
  }

  /** The shared counts plus what this node has not sent yet; this node's own while Redis is down. */
  async peekMany(keys: string[], now: number): Promise<(number | undefined)[]> {
    if (!this.up) return this.local.peekMany(keys, now);
    const out: (number | undefined)[] = [];
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      let values: (string | null)[];
      try {
        values = await this.withTimeout(this.redis.mget(chunk.map((k) => PREFIX + k)));
      } catch (err) {
        this.down((err as Error).message);
        return this.local.peekMany(keys, now);
      }
      chunk.forEach((key, j) => {
        const e = this.entries.get(key);
        const mine = e && e.resetAt > now ? e.pending : 0; // what is being sent may be in Redis already
        const value = values[j];
        out.push(value === null || value === undefined ? (mine ? mine : undefined) : Number(value) + mine);
      });
    }
    return out;
  }

  /** Clears the counts for every node; refused (503) while Redis cannot take it, as it would not act cluster-wide. */
  async resetMany(keys: string[]): Promise<boolean> {
    for (const key of keys) [this.entries, this.whileDown].forEach((m) => m.delete(key));
    const here = await this.local.resetMany(keys);
    try {
      if (!this.up) throw new Error('down');
      return (await this.withTimeout(this.redis.del(...keys.map((k) => PREFIX + k)))) > 0 || here;
    } catch (err) {
      this.down((err as Error).message);
      throw new ApiError('NOT_READY', 'Redis is unreachable: the shared counts were reset on this node only');
    }
  }

  /** Runs `command` on the shared connection within the timeout; undefined while Redis is down or when it fails. */
  async shared<T>(command: (redis: Redis) => Promise<T>): Promise<T | undefined> {
    if (!this.up) return undefined;
    try {
      return await this.withTimeout(command(this.redis));
    } catch (err) {
      this.down((err as Error).message);
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    if (this.up) await this.flush();
    await this.local.stop();
    this.redis.disconnect();
  }

  private entry(key: string, window: LimitWindow, now: number): Entry {
    let e = this.entries.get(key);
    if (!e || e.resetAt <= now) {
      // a new window; what was unsent of the old one belonged to it
      e = { window, resetAt: windowEnd(window, now), shared: 0, pending: 0, sending: 0, touched: false };
      this.entries.set(key, e);
    }
    return e;
  }

  /** A flush as soon as the one under way ends: a counter reached its batch. */
  private kick(): void {
    if (this.flushing) this.again = true;
    else setImmediate(() => void this.flush());
  }

  /** Sends what was admitted since the last flush and reads the counters read since, in one pipeline. */
  private async flush(): Promise<void> {
    if (this.flushing || !this.up) return;
    this.flushing = true;
    const now = Date.now();
    const batch: [string, Entry, number][] = [];
    for (const [key, e] of this.entries) {
      if (e.resetAt <= now) this.entries.delete(key);
      else if (e.pending || e.touched) {
        batch.push([key, e, e.pending]);
        e.sending += e.pending;
        e.pending = 0;
        e.touched = false;
      }
    }
    try {
      if (!batch.length) return;
      const pipe = this.redis.pipeline();
      for (const [key, e, n] of batch) {
        (pipe as unknown as CountingRedis).porticoCount(PREFIX + key, n, windowEnd(e.window, now) - now);
      }
      const results = await this.withTimeout(pipe.exec());
      // a command's error (its timeout among them) is Redis failing, not a refusal of one counter
      const failed = results?.find(([err]) => err)?.[0];
      if (!results || failed) throw failed ?? new Error('no reply');
      const answered = Date.now();
      batch.forEach(([key, e, n], i) => {
        e.sending -= n;
        if (this.entries.get(key) !== e) return;
        const [count, ttl] = results[i]![1] as [number, number];
        e.shared = count;
        if (ttl > 0) e.resetAt = answered + ttl;
      });
    } catch (err) {
      // what was sent may or may not have been counted: the local counts start from it as if it was
      this.down((err as Error).message);
    } finally {
      this.flushing = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }

  /** While down: one PING at a time; an answer brings the shared counts back. */
  private async probe(): Promise<void> {
    if (this.up || this.flushing || this.stopped || this.redis.status !== 'ready') return;
    this.flushing = true;
    try {
      await this.withTimeout(this.redis.ping());
      // what this node knew is stale: every counter is read afresh, and what it admitted alone is sent
      this.entries.clear();
      this.local.clear();
      const now = Date.now();
      for (const [key, alone] of this.whileDown) {
        if (alone.resetAt <= now) continue;
        const e = { window: alone.window, resetAt: alone.resetAt, shared: 0, pending: alone.n, sending: 0 };
        this.entries.set(key, { ...e, touched: true });
      }
      this.whileDown.clear();
      this.up = true;
      this.onState(true, 'answering');
    } catch {
      // still down
    } finally {
      this.flushing = false;
    }
  }

  /** Counts locally from here, starting from what this node last knew of each counter. */
  private down(reason: string): void {
    if (!this.up) return;
    this.up = false;
    if (this.stopped) return;
    const now = Date.now();
    for (const [key, e] of this.entries) {
      if (e.resetAt > now) this.local.seed(key, e.shared + e.sending + e.pending, e.window, now);
    }
    this.entries.clear();
    this.onState(false, reason);
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer within ${this.settings.timeoutMs} ms`)),
        this.settings.timeoutMs,
      );
      p.then(
        (v) => (clearTimeout(timer), resolve(v)),
        (e) => (clearTimeout(timer), reject(e)),
      );
    });
  }
}
