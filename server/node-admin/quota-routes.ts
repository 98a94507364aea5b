import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { callContext } from '../control/request-state';
import type { ResourceService } from '../control/resource-service';
import { dataPlaneOf, type DataPlane } from '../data/data-plane';
import type { ApiKeyState } from '../resources';
import { rateLimitTier } from '../resources/rate-limit-tier';
import { consumerParams, done, quota } from './schemas';

/** The limiter's counters of a key's daily and monthly quotas (server/data/limiter.ts `tierLimits`). */
const counterKeys = (keyId: string) => [`quota-day:${keyId}`, `quota-month:${keyId}`] as const;

/**
 * A consumer's quota on this node: its key's counts today and this month (UTC) against its tier's quotas; undefined
 * when it has no quota data (no tier quota and nothing counted).
 */
function quotaOf(gw: Gateway, dp: DataPlane, key: ApiKeyState) {
  const tier = key.rate_limit_tier ? gw.snapshot.get('rate_limit_tier', key.rate_limit_tier, null) : undefined;
  const [dayKey, monthKey] = counterKeys(key.id);
  const day = dp.limiter.peek(dayKey);
  const month = dp.limiter.peek(monthKey);
  const dailyLimit = tier?.daily_quota ?? null;
  const monthlyLimit = tier?.monthly_quota ?? null;
  if (dailyLimit === null && monthlyLimit === null && day === undefined && month === undefined) return undefined;
  const left = (limit: number | null, used: number) => (limit === null ? null : Math.max(0, limit - used));
  return {
    consumer_id: key.id,
    daily_count: day ?? 0,
    daily_limit: dailyLimit,
    monthly_count: month ?? 0,
    monthly_limit: monthlyLimit,
    daily_remaining: left(dailyLimit, day ?? 0),
    monthly_remaining: left(monthlyLimit, month ?? 0),
  };
}

/**
 * Seed 003's quotas: a consumer is an API key (by its id), counted by this node's limiter, which is what it enforces.
 * A reset sets this node's counts to zero; other nodes keep theirs. Reading needs any platform role; a reset needs
 * write access to policies (owner, policy-admin), where rate-limit tiers live.
 */
export const quotaRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-node-admin-quotas',
  [ZOD_SCHEMAS],
  async (app, { gw, service }) => {
    const tags = ['Quotas'];
    const all = () => {
      const dp = dataPlaneOf(gw);
      if (!dp) return [];
      const seen = new Set<string>();
      const out = [];
      // a consumer id names one counter even if two tenants have a key of that id (the limiter counts by id)
      for (const key of gw.snapshot.all('api_key') as ApiKeyState[]) {
        if (seen.has(key.id)) continue;
        const q = quotaOf(gw, dp, key);
        if (q) out.push(q);
        seen.add(key.id);
      }
      return out;
    };
    const one = (id: string) => {
      const q = all().find((c) => c.consumer_id === id);
      if (!q) throw new ApiError('NOT_FOUND', `Consumer "${id}" has no quota data on this node`);
      return q;
    };

    app.get(
      '/quotas',
      { schema: { summary: "Every consumer's quota on this node", tags, response: { 200: quota.array() } } },
      async () => all(),
    );

    app.get(
      '/quotas/:consumer_id',
      {
        schema: {
          summary: "One consumer's quota (404 if it has no quota data)",
          tags,
          params: consumerParams,
          response: { 200: quota },
        },
      },
      async (req) => one(req.params.consumer_id),
    );

    app.post(
      '/quotas/:consumer_id/reset',
      {
        schema: {
          summary: "Reset a consumer's daily and monthly counts to zero on this node",
          tags,
          params: consumerParams,
          response: { 200: done },
        },
      },
      async (req) => {
        service.scope.authorize(callContext(req), rateLimitTier, 'write');
        const id = req.params.consumer_id;
        one(id);
        for (const key of counterKeys(id)) dataPlaneOf(gw)!.limiter.reset(key);
        return { status: 'ok' as const, message: `Quota reset for consumer '${id}'` };
      },
    );
  },
);
