import { z } from 'zod';

/**
 * The shapes of seed 003 (the gateway node's admin API), field for field. Inputs are strict: a field the seed does
 * not name is refused (400 naming it) rather than dropped.
 */

const slug = () =>
  z
    .string()
    .regex(/^[a-z0-9][a-z0-9-_.]{0,62}$/, 'must be a slug: a-z, 0-9, "-", "_", "." (at most 63)')
    .describe('Its id, a slug.');
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export const apiInput = z.strictObject({
  id: slug(),
  name: z.string().min(1).max(200).describe('What the API is called (kept in the route metadata).'),
  tenant_id: z.string().max(63).nullable().optional().describe('Its tenant; omitted or null: every tenant (global).'),
  path_prefix: z.string().max(1024).describe('The paths it serves.'),
  backend_url: z.string().max(2048).describe('Where requests go.'),
  methods: z.array(z.enum(HTTP_METHODS)).max(HTTP_METHODS.length).default([]).describe('Its methods; empty: all.'),
  spec_hash: z.string().max(200).nullable().optional().describe('A hash of its API specification, as given.'),
  activated: z.boolean().default(true).describe('Whether it serves traffic.'),
});
export type ApiInput = z.output<typeof apiInput>;

export const api = z.object({
  id: z.string(),
  name: z.string(),
  tenant_id: z.string().nullable(),
  path_prefix: z.string(),
  backend_url: z.string().nullable(),
  methods: z.array(z.string()),
  spec_hash: z.string().nullable(),
  activated: z.boolean(),
});
export type Api = z.output<typeof api>;

export const policyInput = z.strictObject({
  id: slug(),
  name: z.string().min(1).max(200).describe('What the policy is for.'),
  policy_type: z.string().describe('rate_limit, quota, cors, ip_filter, guardrail or approval_gate.'),
  config: z.record(z.string(), z.unknown()).describe('The settings of its type (see docs/policies.md).'),
  priority: z.number().int().min(-1_000_000).max(1_000_000).default(0).describe('Applied higher first.'),
  api_id: z.string().max(100).nullable().optional().describe('The API (route) it applies to; omitted or null: all.'),
});
export type PolicyInput = z.output<typeof policyInput>;

export const nodePolicy = z.object({
  id: z.string(),
  name: z.string(),
  policy_type: z.string(),
  config: z.unknown(),
  priority: z.number(),
  api_id: z.string().nullable(),
});

export const health = z.object({
  status: z.literal('ok'),
  version: z.string(),
  routes_count: z.number(),
  policies_count: z.number(),
});

export const breakerStats = z.object({
  name: z.string(),
  state: z.enum(['closed', 'open', 'half_open']),
  success_count: z.number(),
  failure_count: z.number(),
  consecutive_failures: z.number(),
  open_count: z.number(),
  rejected_count: z.number(),
});

export const done = z.object({ status: z.literal('ok'), message: z.string() });

export const cacheStats = z.object({
  hits: z.number(),
  misses: z.number(),
  entry_count: z.number(),
  hit_rate: z.number(),
});

export const sessionStats = z.object({
  active_sessions: z.number(),
  zombie_count: z.number(),
  tracked_sessions: z.number(),
});

export const quota = z.object({
  consumer_id: z.string(),
  daily_count: z.number(),
  daily_limit: z.number().nullable(),
  monthly_count: z.number(),
  monthly_limit: z.number().nullable(),
  daily_remaining: z.number().nullable(),
  monthly_remaining: z.number().nullable(),
});

export const idParams = z.object({ id: z.string() });
export const nameParams = z.object({ name: z.string() });
export const consumerParams = z.object({ consumer_id: z.string() });
