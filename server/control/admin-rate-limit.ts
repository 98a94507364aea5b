import { ApiError } from '../errors';

/** How many distinct keys a set of buckets tracks before it drops the idle ones. */
const MAX_KEYS = 50_000;

/**
 * Token buckets, one per key: each holds up to `burst` tokens and gains `perSecond` a second. In memory, per
 * instance (like the data plane's limiter): N admin nodes admit up to N times the rate.
 */
export class CallerBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  /** Takes a token for `key`: 0 when there was one, else the milliseconds until there is. */
  take(key: string, now = Date.now()): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_KEYS) this.sweep(now);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = this.fill(bucket, now);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.perSecond) * 1000);
  }

  private fill(bucket: { tokens: number; at: number }, now: number): number {
    return Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.perSecond);
  }

  /** Full buckets hold nothing a new one would not, so they go; if every key is busy, the oldest goes. */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) if (this.fill(bucket, now) >= this.burst) this.buckets.delete(key);
    if (this.buckets.size >= MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value!);
  }
}

/**
 * Per-caller rate limit of the admin API: `perSecond` requests a second, in bursts of up to two seconds' worth.
 * A caller is its token (the bootstrap token has its own bucket); a request without a valid token is counted
 * against its client address. `perSecond` 0 turns it off.
 */
export class AdminRateLimit {
  private readonly buckets: CallerBuckets | undefined;

  constructor(perSecond: number) {
    this.buckets = perSecond > 0 ? new CallerBuckets(perSecond, perSecond * 2) : undefined;
  }

  /** Counts one request of `key`; over the limit, a 429 `RATE_LIMITED` with `Retry-After` (whole seconds). */
  check(key: string): void {
    const waitMs = this.buckets?.take(key) ?? 0;
    if (waitMs === 0) return;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    const message = `Too many admin API requests from this caller; retry in ${seconds} s`;
    throw new ApiError('RATE_LIMITED', message).withHeaders({ 'retry-after': String(seconds) });
  }
}

/**
 * Which refusals of one caller are written to the audit chain: a burst of 20, then one a second. A caller looping
 * on 403s is still refused every time, but cannot flood the chain (every write there is serialized). The next
 * event written says how many went unwritten before it (`changes.unrecorded_before`).
 */
export class RefusalAuditLimit {
  private readonly buckets = new CallerBuckets(1, 20);
  private readonly unrecorded = new Map<string, number>();

  /** undefined: do not write this refusal; a number: write it, with that many unwritten before it. */
  admit(callerId: string): number | undefined {
    if (this.buckets.take(callerId) > 0) {
      this.unrecorded.set(callerId, (this.unrecorded.get(callerId) ?? 0) + 1);
      return undefined;
    }
    const before = this.unrecorded.get(callerId) ?? 0;
    this.unrecorded.delete(callerId);
    return before;
  }
}
