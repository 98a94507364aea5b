import type Redis from 'ioredis';
import type { RedisSettings } from '../config';
import { ApiError } from '../errors';
import { BatchedCounts, type CountAnswer, type CountSent } from './counter-batching';
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
  private readonly batched: BatchedCounts;
  private readonly local = new MemoryCounts();
  /** What this node admitted while Redis was away, per counter and window: added to the shared counts on return. */
  private readonly whileDown = new Map<string, { n: number; window: LimitWindow; resetAt: number }>();
  private readonly ticker: NodeJS.Timeout;
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
    // what was sent may or may not have been counted: the local counts start from it as if it was
    this.batched = new BatchedCounts(
      settings.batch,
      (counts, now) => this.count(counts, now),
      (err) => this.down(err.message),
    );
    this.redis.on('ready', () => void this.probe());
    this.redis.on('close', () => this.down('connection closed'));
    this.redis.on('error', () => {}); // reported by 'close' and failed commands; the error may name the URL
    this.ticker = setInterval(() => void (this.up ? this.batched.flush() : this.probe()), settings.flushMs).unref();
  }

  /** Waits (at most the connect timeout) for Redis, so that a node starts on shared counts when it can. */
  async start(): Promise<void> {
    const deadline = Date.now() + Math.max(1000, this.settings.timeoutMs);
    while (!this.up && !this.stopped && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!this.up) this.onState(false, 'unreachable at start');
  }

  read(key: string, window: LimitWindow, now: number, limit?: number): WindowCount {
    return this.up ? this.batched.read(key, window, now, limit) : this.local.read(key, window, now);
  }

  confirmed(): Promise<void> {
    return this.up ? this.batched.confirmed() : Promise.resolve();
  }

  add(key: string, window: LimitWindow, now: number): void {
    if (!this.up) return this.addAlone(key, window, now);
    this.batched.add(key, window, now);
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
        const mine = this.batched.unsent(key, now); // what is being sent may be in Redis already
        const value = values[j];
        out.push(value === null || value === undefined ? (mine ? mine : undefined) : Number(value) + mine);
      });
    }
    return out;
  }

  /** Clears the counts for every node; refused (503) while Redis cannot take it, as it would not act cluster-wide. */
  async resetMany(keys: string[]): Promise<boolean> {
    for (const key of keys) {
      this.batched.forget(key);
      this.whileDown.delete(key);
    }
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
    if (this.up) await this.batched.flush();
    await this.local.stop();
    this.redis.disconnect();
  }

  /** Adds the counts in one pipeline; a command's error (its timeout among them) is Redis failing. */
  private async count(counts: CountSent[], now: number): Promise<CountAnswer[]> {
    if (!this.up) throw new Error('down');
    const pipe = this.redis.pipeline();
    for (const { key, n, window } of counts) {
      (pipe as unknown as CountingRedis).porticoCount(PREFIX + key, n, windowEnd(window, now) - now);
    }
    const results = await this.withTimeout(pipe.exec());
    const failed = results?.find(([err]) => err)?.[0];
    if (!results || failed) throw failed ?? new Error('no reply');
    return results.map(([, answer]) => answer as CountAnswer);
  }

  /** While down: one PING at a time; an answer brings the shared counts back. */
  private async probe(): Promise<void> {
    if (this.up || this.batched.busy || this.stopped || this.redis.status !== 'ready') return;
    await this.batched.exclusive(async () => {
      try {
        await this.withTimeout(this.redis.ping());
      } catch {
        return; // still down
      }
      // what this node knew is stale: every counter is read afresh, and what it admitted alone is sent
      this.local.clear();
      this.batched.restart(
        [...this.whileDown].map(([key, alone]) => ({ key, ...alone })),
        Date.now(),
      );
      this.whileDown.clear();
      this.up = true;
      this.onState(true, 'answering');
    });
  }

  /** Counts locally from here, starting from what this node last knew of each counter. */
  private down(reason: string): void {
    if (!this.up) return;
    this.up = false;
    if (this.stopped) return;
    const now = Date.now();
    for (const { key, count, window } of this.batched.drain(now)) this.local.seed(key, count, window, now);
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
