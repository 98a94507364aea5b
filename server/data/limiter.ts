import type { RateLimitTierState, RouteState, TenantState } from '../resources';
import type { SnapshotApiKey } from '../store/snapshot-keys';
import { MemoryCounts, type CounterStore, type LimitWindow, type WindowCount } from './counter-store';

export type { LimitWindow } from './counter-store';

/** One limit to enforce: at most `limit` requests per window, counted under `key`. */
export interface LimitRule {
  /** Counter identity; rules with the same key share a count (`route:rt_1:key_a`). */
  key: string;
  limit: number;
  window: LimitWindow;
  /** A rate limit answers `RATE_LIMITED`; a quota `QUOTA_EXCEEDED`. */
  reason: 'rate_limit' | 'quota';
  /** Where the rule came from, for the error message: `route "rt_1"`, `tier "gold"`. */
  source: string;
}

/** What a request is: enough for a source to decide its rules. */
export interface LimitContext {
  /** The caller's tenant; null on a global HTTP route called without a key. */
  tenant: TenantState | null;
  /** The caller's API key, or null on an HTTP route without `auth_required`. */
  key: SnapshotApiKey | null;
  route: RouteState;
  /** Who is counted when there is no key: the client address. */
  clientIp: string;
}

/**
 * Turns a request into the rules that apply to it. Route limits and key tiers are sources; the `rate_limit`
 * policies of seed 003 become one more source, with no change to the limiter.
 */
export type LimitSource = (ctx: LimitContext) => LimitRule[];

export interface LimitDecision {
  allowed: boolean;
  /** The rule that refused the request. */
  denied?: LimitRule;
  /** `x-ratelimit-limit`, `-remaining`, `-reset` of the tightest rule; with `retry-after` when refused. */
  headers: Record<string, string>;
  /**
   * Refused only because a shared store has not yet confirmed this process's last batch on a counter (see
   * WindowCount.held): the caller may wait for {@link RateLimiter.confirmed} and ask again.
   */
  held?: boolean;
}

/**
 * Refuses requests over a limit, counting per rule in a {@link CounterStore}: this process's memory, or the counts
 * every node shares (Redis). A refused request counts against nothing, so a quota is never spent on requests that
 * were turned away. Single-threaded JavaScript makes check-and-count atomic on one node: 200 concurrent requests
 * against a limit of 50 admit exactly 50 (a shared store adds its stated error across nodes).
 */
export class RateLimiter {
  constructor(
    private readonly sources: LimitSource[] = [],
    readonly store: CounterStore = new MemoryCounts(),
  ) {}

  /** Adds a source of rules (the policy engine plugs in here). */
  addSource(source: LimitSource): void {
    this.sources.push(source);
  }

  /** Checks every rule for the request; when all allow it, counts it against each. */
  take(ctx: LimitContext, now = Date.now()): LimitDecision {
    let rules: LimitRule[] = [];
    for (const source of this.sources) {
      const more = source(ctx);
      if (more.length) rules = rules.length ? rules.concat(more) : more;
    }
    if (!rules.length) return { allowed: true, headers: {} };
    // the counters of every rule, checked before any is counted: a refused request counts against nothing
    const live: WindowCount[] = [];
    let tightest = -1;
    let tightestRemaining = Infinity;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const c = this.store.read(rule.key, rule.window, now, rule.limit);
      live.push(c);
      if (c.held) return { ...refusal({ ...rule, reason: 'rate_limit' }, now + 1000, now), held: true };
      if (c.count >= rule.limit) return refusal(rule, c.resetAt, now);
      const remaining = rule.limit - c.count - 1;
      if (remaining < tightestRemaining) [tightest, tightestRemaining] = [i, remaining];
    }
    for (const rule of rules) this.store.add(rule.key, rule.window, now);
    return {
      allowed: true,
      headers: headersOf(rules[tightest]!.limit, tightestRemaining, live[tightest]!.resetAt, now),
    };
  }

  /** Resolves when the shared store has answered the counts it sent last (at once for this process's memory). */
  confirmed(): Promise<void> {
    return this.store.confirmed?.() ?? Promise.resolve();
  }

  /** Starts a counter at `count` (quotas already spent, read back from request logs at start-up). */
  seed(key: string, count: number, window: LimitWindow, now = Date.now()): void {
    this.store.seed(key, count, window, now);
  }

  /** The counts under `keys` in their current windows, or undefined for one that has none (never hit, or ended). */
  peek(keys: string[], now = Date.now()): Promise<(number | undefined)[]> {
    return this.store.peekMany(keys, now);
  }

  /** Forgets the counts under `keys` (an operator's quota reset): the next request starts a new window at zero. */
  reset(keys: string[]): Promise<boolean> {
    return this.store.resetMany(keys);
  }

  stop(): Promise<void> {
    return this.store.stop();
  }
}

/** A refusal by `rule`, whose window (or, for a held counter, the wait for the shared store) ends at `until`. */
function refusal(rule: LimitRule, until: number, now: number): LimitDecision {
  return {
    allowed: false,
    denied: rule,
    headers: {
      ...headersOf(rule.limit, 0, until, now),
      'retry-after': String(Math.max(1, Math.ceil((until - now) / 1000))),
    },
  };
}

function headersOf(limit: number, remaining: number, resetAt: number, now: number): Record<string, string> {
  return {
    'x-ratelimit-limit': String(limit),
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-reset': String(Math.max(0, Math.ceil((resetAt - now) / 1000))),
  };
}

/** Who a request is counted as: its key, or its client address when the route asks for no key. */
const subject = (ctx: LimitContext) => (ctx.key ? `key:${ctx.key.id}` : `ip:${ctx.clientIp}`);

/**
 * The route's own `rate_limit` (seed 004's `rateLimitOverride`), per caller on that route. The counter names the
 * route's owner too (two tenants' routes of the same id count apart), and the window's length: a window made under
 * an earlier setting ends as it was set, and must not hold the new limit to it (a limit per hour changed to one per
 * second would otherwise refuse for up to the rest of the hour).
 */
export const routeLimits: LimitSource = (ctx) => {
  const { route } = ctx;
  const rl = route.rate_limit;
  if (!rl) return [];
  const key = `route:${route.tenant_id ?? '*'}/${route.id}/${rl.window_secs}s:${subject(ctx)}`;
  return [
    {
      key,
      limit: rl.limit,
      window: { type: 'span', ms: rl.window_secs * 1000 },
      reason: 'rate_limit',
      source: `route "${route.id}"`,
    },
  ];
};

export const DAY: LimitWindow = { type: 'calendar', unit: 'day' };
export const MONTH: LimitWindow = { type: 'calendar', unit: 'month' };

/**
 * The counters of an API key's daily and monthly quotas. They are the key's (by tenant and id, as key ids are unique
 * per tenant), not its tier's: what a key spent this day or month stays spent when it moves to another tier, and is
 * held against the quotas of the tier it has now. That is also what the request logs say at start-up, which know no
 * tier.
 */
export const quotaCounters = (tenantId: string, keyId: string) => ({
  day: `quota-day:${tenantId}/${keyId}`,
  month: `quota-month:${tenantId}/${keyId}`,
});

/**
 * The key's `rate_limit_tier`: its rate across every route, and its daily and monthly quotas. The rate's counter is
 * per tier and window length: a key moved to another tier (or whose tier's window changed) starts a window of the
 * new terms rather than finishing one made under the old.
 */
export function tierLimits(tierOf: (id: string) => RateLimitTierState | undefined): LimitSource {
  return (ctx) => {
    const tierId = ctx.key?.rate_limit_tier;
    const tier = tierId ? tierOf(tierId) : undefined;
    if (!tier || !ctx.key) return [];
    const owner = `${ctx.key.tenant_id}/${ctx.key.id}`;
    const source = `tier "${tier.id}"`;
    const span: LimitWindow = { type: 'span', ms: tier.window_secs * 1000 };
    const rateKey = `tier:${tier.id}/${tier.window_secs}s:${owner}`;
    const rules: LimitRule[] = [{ key: rateKey, limit: tier.limit, window: span, reason: 'rate_limit', source }];
    const quota = quotaCounters(ctx.key.tenant_id, ctx.key.id);
    if (tier.daily_quota !== null) {
      rules.push({ key: quota.day, limit: tier.daily_quota, window: DAY, reason: 'quota', source });
    }
    if (tier.monthly_quota !== null) {
      rules.push({ key: quota.month, limit: tier.monthly_quota, window: MONTH, reason: 'quota', source });
    }
    return rules;
  };
}
