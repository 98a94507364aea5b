import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { actorOf } from '../control/caller';
import { callContext } from '../control/request-state';
import type { ResourceService } from '../control/resource-service';
import { limiterOf } from '../data/data-plane';
import { quotaCounters, type RateLimiter } from '../data/limiter';
import type { SnapshotApiKey } from '../store/snapshot-keys';
import { rateLimitTier } from '../resources/rate-limit-tier';
import { recordQuotaReset } from '../store/quota-resets';
import type { ControlPlaneBreaker } from './control-plane-breaker';
import { consumerParams, done, quota } from './schemas';

/** Counts read from the limiter's store in one round, many keys at a time (a shared store reads them in batches). */
async function countsOf(limiter: RateLimiter, keys: SnapshotApiKey[]) {
  const names = keys.flatMap((key) => {
    const counters = quotaCounters(key.tenant_id, key.id);
    return [counters.day, counters.month];
  });
  const counts = await limiter.peek(names);
  return keys.map((_, i) => ({ day: counts[2 * i], month: counts[2 * i + 1] }));
}

/**
 * A consumer's quota: its key's counts today and this month (UTC) against its tier's quotas; undefined when it has
 * no quota data (no tier quota and nothing counted).
 */
function quotaOf(gw: Gateway, key: SnapshotApiKey, day: number | undefined, month: number | undefined) {
  const tier = key.rate_limit_tier ? gw.snapshot.get('rate_limit_tier', key.rate_limit_tier, null) : undefined;
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
 * Seed 003's quotas: a consumer is an API key (by its id, which the server generates: unique across tenants too),
 * counted by this node's limiter, which is what it enforces. Without Redis a reset sets this node's counts to zero at
 * once (other running nodes keep theirs) and is recorded in the database first, so that the counts every node reads
 * back from the request logs when it starts begin after it; with PORTICO_REDIS_URL the counts are the cluster's, and
 * a reset clears them for every node. Reading needs any platform role; a reset needs write access to
 * policies (owner, policy-admin), where rate-limit tiers live.
 */
export const quotaRoutes = routePlugin<{ gw: Gateway; service: ResourceService; breaker: ControlPlaneBreaker }>(
  'portico-node-admin-quotas',
  [ZOD_SCHEMAS],
  async (app, { gw, service, breaker }) => {
    const tags = ['Quotas'];
    const consumers = async (keys = gw.snapshot.all('api_key') as SnapshotApiKey[]) => {
      const limiter = limiterOf(gw);
      if (!limiter) return [];
      const counts = await countsOf(limiter, keys);
      const out = [];
      for (let i = 0; i < keys.length; i++) {
        const q = quotaOf(gw, keys[i]!, counts[i]!.day, counts[i]!.month);
        if (q) out.push({ key: keys[i]!, quota: q });
      }
      return out;
    };
    const one = async (id: string) => {
      const keys = (gw.snapshot.all('api_key') as SnapshotApiKey[]).filter((key) => key.id === id);
      const [found] = await consumers(keys);
      if (!found) throw new ApiError('NOT_FOUND', `Consumer "${id}" has no quota data on this node`);
      return found;
    };

    app.get(
      '/quotas',
      { schema: { summary: "Every consumer's quota on this node", tags, response: { 200: quota.array() } } },
      async () => (await consumers()).map((c) => c.quota),
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
      async (req) => (await one(req.params.consumer_id)).quota,
    );

    app.post(
      '/quotas/:consumer_id/reset',
      {
        schema: {
          summary: "Reset a consumer's daily and monthly counts to zero on this node (kept across its restarts)",
          tags,
          params: consumerParams,
          response: { 200: done },
        },
      },
      async (req) => {
        const ctx = callContext(req);
        service.scope.authorize(ctx, rateLimitTier, 'write');
        const { key, quota: before } = await one(req.params.consumer_id);
        // the mark first, audited with it: an answer of ok means the reset outlives a restart; a database down
        // leaves the counts as they were (503), rather than a reset that a restart would undo
        const event = {
          type: 'QUOTA_RESET',
          actor: actorOf(ctx.caller),
          tenant_id: key.tenant_id,
          resource: { kind: 'api_key', id: key.id },
          changes: {
            daily_count: { from: before.daily_count, to: 0 },
            monthly_count: { from: before.monthly_count, to: 0 },
          },
          trace_id: ctx.traceId ?? null,
        };
        const mark = { tenant_id: key.tenant_id, api_key_id: key.id, reset_at: new Date() };
        await breaker.run(() =>
          gw.db.transaction().execute(async (tx) => {
            await recordQuotaReset(tx, mark);
            await gw.audit.append(tx, [event]);
          }),
        );
        const counters = quotaCounters(key.tenant_id, key.id);
        await limiterOf(gw)?.reset([counters.day, counters.month]);
        return { status: 'ok' as const, message: `Quota reset for consumer '${key.id}'` };
      },
    );
  },
);
