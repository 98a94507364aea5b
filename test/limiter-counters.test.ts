import { quotaCounters, RateLimiter, routeLimits, tierLimits, type LimitContext } from '../server/data/limiter';
import type { ApiKeyState, RateLimitTierState, RouteState, TenantState } from '../server/resources';

/**
 * Whose counts the limiter keeps, when a key or a route changes under it: quotas are the key's usage in the UTC day
 * and month (kept across a move to another tier, held against the new tier's quotas); a rate window is the terms'
 * it was made under (a new tier, or a new window length, starts a new one); keys of two tenants never share a count.
 */
describe('limiter counters when keys and routes change', () => {
  const tiers = new Map<string, RateLimitTierState>();
  const tier = (id: string, t: Partial<RateLimitTierState>) =>
    tiers.set(id, { id, limit: 1000, window_secs: 60, daily_quota: null, monthly_quota: null, ...t } as never);
  const keyOf = (tenant: string, id: string, rateLimitTier: string | null): ApiKeyState =>
    ({ id, tenant_id: tenant, rate_limit_tier: rateLimitTier }) as never;
  const route = { id: 'r1', tenant_id: 'acme', rate_limit: null } as unknown as RouteState;
  const ctx = (key: ApiKeyState | null, r: RouteState = route): LimitContext => ({
    tenant: { id: key?.tenant_id ?? 'acme' } as TenantState,
    key,
    route: r,
    clientIp: '127.0.0.1',
  });
  let limiter: RateLimiter;
  beforeEach(() => {
    tiers.clear();
    limiter = new RateLimiter([routeLimits, tierLimits((id) => tiers.get(id))]);
  });
  afterEach(() => limiter.stop());
  const peek = async (key: string) => (await limiter.peek([key]))[0];

  const admitted = (c: LimitContext, n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const d = limiter.take(c);
      out.push(d.allowed ? 'ok' : d.denied!.reason);
    }
    return out;
  };

  test("a key's quota spent on one tier stays spent on another, held against the new tier's quota", async () => {
    tier('free', { daily_quota: 3 });
    tier('gold', { daily_quota: 5 });
    tier('tiny', { daily_quota: 2 });
    expect(admitted(ctx(keyOf('acme', 'key_1', 'free')), 4)).toEqual(['ok', 'ok', 'ok', 'quota']);
    // upgraded: two more of gold's five
    expect(admitted(ctx(keyOf('acme', 'key_1', 'gold')), 3)).toEqual(['ok', 'ok', 'quota']);
    expect(await peek(quotaCounters('acme', 'key_1').day)).toBe(5);
    // downgraded below what it spent: refused for the rest of the day
    expect(admitted(ctx(keyOf('acme', 'key_1', 'tiny')), 1)).toEqual(['quota']);
  });

  test("a key moved to another tier starts a rate window of the new tier's terms", () => {
    tier('hourly', { limit: 2, window_secs: 3600 });
    tier('per-second', { limit: 2, window_secs: 1 });
    expect(admitted(ctx(keyOf('acme', 'key_1', 'hourly')), 3)).toEqual(['ok', 'ok', 'rate_limit']);
    // not held to the rest of the hourly window it filled
    expect(admitted(ctx(keyOf('acme', 'key_1', 'per-second')), 3)).toEqual(['ok', 'ok', 'rate_limit']);
    // and a tier whose window is changed starts a window of the new length
    tier('hourly', { limit: 2, window_secs: 1 });
    expect(admitted(ctx(keyOf('acme', 'key_1', 'hourly')), 1)).toEqual(['ok']);
  });

  test('keys of the same id in two tenants count apart', async () => {
    tier('free', { daily_quota: 1 });
    expect(admitted(ctx(keyOf('acme', 'key_1', 'free')), 2)).toEqual(['ok', 'quota']);
    expect(admitted(ctx(keyOf('globex', 'key_1', 'free')), 1)).toEqual(['ok']);
    expect(await peek(quotaCounters('acme', 'key_1').day)).toBe(1);
    expect(await peek(quotaCounters('globex', 'key_1').day)).toBe(1);
  });

  test("a route's rate limit whose window changes starts a window of the new length", () => {
    const hourly = { ...route, rate_limit: { limit: 1, window_secs: 3600 } } as RouteState;
    const key = keyOf('acme', 'key_1', null);
    expect(admitted(ctx(key, hourly), 2)).toEqual(['ok', 'rate_limit']);
    const perSecond = { ...route, rate_limit: { limit: 1, window_secs: 1 } } as RouteState;
    expect(admitted(ctx(key, perSecond), 2)).toEqual(['ok', 'rate_limit']);
  });

  test('a reset forgets the quota counts the limiter enforces', async () => {
    tier('free', { daily_quota: 1, monthly_quota: 1 });
    const c = ctx(keyOf('acme', 'key_1', 'free'));
    expect(admitted(c, 2)).toEqual(['ok', 'quota']);
    const counters = quotaCounters('acme', 'key_1');
    expect(await limiter.reset([counters.day, counters.month])).toBe(true);
    expect(admitted(c, 2)).toEqual(['ok', 'quota']);
  });
});
