import { z } from 'zod';
import { defineResource } from './define';

const count = () => z.number().int().min(1).max(1_000_000_000_000);

/**
 * A named rate-limit tier that API keys point at with `rate_limit_tier`: requests per window, and optional request
 * quotas per UTC day and month. Applies to both the LLM and the HTTP proxy.
 */
export const rateLimitTier = defineResource({
  kind: 'rate_limit_tier',
  title: 'Rate-limit tier',
  plural: 'Rate-limit tiers',
  description:
    'Requests per window for the API keys on this tier, with optional daily and monthly request quotas (UTC).',
  path: '/rate-limit-tiers',
  exportKey: 'rate_limit_tiers',
  scope: 'platform',
  area: 'policies',
  id: { source: 'caller' },
  fields: z.strictObject({
    description: z.string().max(1000).default('').describe('What the tier is for.'),
    limit: count().describe('Requests per window, per API key.'),
    window_secs: z.number().int().min(1).max(31_536_000).describe('The window, in seconds, from its first request.'),
    daily_quota: count().nullable().default(null).describe('Requests per UTC day, per API key; null: none.'),
    monthly_quota: count().nullable().default(null).describe('Requests per UTC month, per API key; null: none.'),
  }),
  computed: z.strictObject({}),
  audit: { created: 'RATE_LIMIT_TIER_CREATED', updated: 'RATE_LIMIT_TIER_UPDATED', deleted: 'RATE_LIMIT_TIER_DELETED' },
});
