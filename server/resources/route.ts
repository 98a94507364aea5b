import { z } from 'zod';
import { defineResource, isoDateTime, metadata } from './define';

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const url = () => z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);

export const provider = z.strictObject({
  provider: z
    .string()
    .min(1)
    .max(64)
    .describe('The provider (`openai`): picks its default base URL and its credentials.'),
  model: z
    .string()
    .min(1)
    .max(200)
    .nullable()
    .default(null)
    .describe('The model sent upstream; null: the one asked for.'),
  base_url: url().nullable().default(null).describe("Its OpenAI-compatible API; null: the provider's default."),
  credential_id: z
    .string()
    .min(1)
    .max(100)
    .nullable()
    .default(null)
    .describe("The credential to use; null: the tenant's active one for the provider, else a global one."),
  weight: z.number().int().min(0).max(10_000).default(1).describe('Its share of calls with the weighted strategy.'),
  timeout_ms: z
    .number()
    .int()
    .min(1)
    .max(600_000)
    .nullable()
    .default(null)
    .describe("How long a call may take, in ms; null: the route's timeout."),
});

export const rateLimit = z.strictObject({
  limit: z.number().int().min(1).max(1_000_000_000).describe('Requests per window, per caller.'),
  window_secs: z.number().int().min(1).max(31_536_000).describe('The window, in seconds, from its first request.'),
});

/** When an upstream's circuit opens: after `failure_threshold` failures in a row; it half-opens after `cooldown_ms`. */
export const circuitBreaker = z.strictObject({
  failure_threshold: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(5)
    .describe('Failures in a row that open the circuit.'),
  cooldown_ms: z
    .number()
    .int()
    .min(100)
    .max(3_600_000)
    .default(30_000)
    .describe('How long an open circuit refuses calls, in ms.'),
});

/**
 * One resource, two kinds: an LLM route (`model_pattern`, `strategy`, `providers`) or an HTTP route (`path_prefix`,
 * `methods`, `service_id` or `backend_url`, …). Every change is a new version; the last 10 are kept.
 */
export const route = defineResource({
  kind: 'route',
  title: 'Route',
  plural: 'Routes',
  description:
    'Where traffic goes: an LLM route by model pattern, or an HTTP route by path prefix. Versioned, with rollback.',
  path: '/routes',
  exportKey: 'routes',
  scope: 'tenant-optional',
  area: 'routes',
  id: { source: 'either', prefix: 'rt_' },
  versioned: true,
  fields: z.strictObject({
    description: z.string().max(1000).default('').describe('What the route is for.'),
    enabled: z.boolean().default(true).describe('Disabled routes serve nothing (and keep their path).'),
    priority: z
      .number()
      .int()
      .min(-1_000_000)
      .max(1_000_000)
      .default(0)
      .describe('Among matching routes of one owner, the higher first.'),
    model_pattern: z
      .string()
      .min(1)
      .max(200)
      .nullable()
      .default(null)
      .describe('LLM route: the models it serves, `*` matching any run of characters.'),
    strategy: z
      .enum(['model-prefix', 'fallback', 'weighted', 'round-robin'])
      .default('model-prefix')
      .describe('LLM route: how providers are tried: the first only, in order on failure, by weight, or rotating.'),
    providers: z.array(provider).max(32).default([]).describe('LLM route: the providers calls go to.'),
    path_prefix: z
      .string()
      .regex(/^\/[^\s?#]*$/, 'must start with "/" and hold no spaces, "?" or "#"')
      .max(1024)
      .nullable()
      .default(null)
      .describe("HTTP route: the paths it serves (this one and those under it), owned by the route's owner."),
    methods: z
      .array(z.enum(HTTP_METHODS))
      .max(HTTP_METHODS.length)
      .default([])
      .describe('HTTP route: the methods it serves; empty: all.'),
    service_id: z
      .string()
      .min(1)
      .max(100)
      .nullable()
      .default(null)
      .describe('HTTP route: the service requests go to (or give backend_url).'),
    backend_url: url()
      .nullable()
      .default(null)
      .describe('HTTP route: the base URL requests go to (or give service_id).'),
    strip_prefix: z
      .boolean()
      .default(false)
      .describe('HTTP route: drop path_prefix from the path sent to the backend.'),
    auth_required: z.boolean().default(true).describe('HTTP route: false lets calls without an API key through.'),
    timeout_ms: z
      .number()
      .int()
      .min(1)
      .max(600_000)
      .default(30_000)
      .describe('How long an upstream call may take, in ms.'),
    rate_limit: rateLimit
      .nullable()
      .default(null)
      .describe('Requests per window per caller on this route; null: none.'),
    schema_enforcement: z
      .enum(['report', 'reject'])
      .default('report')
      .describe(
        'LLM route: an answer that does not satisfy the registered schema its request named is reported (a header and the request log) or refused (502 SCHEMA_VIOLATION).',
      ),
    circuit_breaker: circuitBreaker
      .nullable()
      .default(null)
      .describe('When the circuit opens; null: after 5 failures in a row, for 30 s.'),
    deleted_at: isoDateTime()
      .nullable()
      .default(null)
      .describe(
        'When the tenant portal soft-deleted the route: it serves nothing (and keeps its path) until this is null again.',
      ),
    metadata: metadata().describe(
      'Free-form string labels; the node admin API (`/admin/apis`) keeps its `name` and `spec_hash` here.',
    ),
  }),
  computed: z.strictObject({
    version: z.number().int().default(1).describe('Counts the changes; rollback makes a new version.'),
  }),
  changesOnUpdate: ['version'],
  references: { service_id: 'service' },
  // An HTTP route's path belongs to its owner, so no tenant can receive traffic meant for another (or the platform).
  claims: { field: 'path_prefix' },
  targets: ['backend_url', 'providers.*.base_url'],
  audit: {
    created: 'ROUTE_CREATED',
    updated: 'ROUTE_UPDATED',
    deleted: 'ROUTE_DELETED',
    rolledBack: 'ROUTE_ROLLED_BACK',
  },
  check: (r) => {
    const problems: { path: string; message: string }[] = [];
    if (r.deleted_at !== null && r.enabled)
      problems.push({ path: 'enabled', message: 'a deleted route (deleted_at set) cannot be enabled' });
    if ((r.model_pattern === null) === (r.path_prefix === null)) {
      const message = 'give exactly one of model_pattern (an LLM route) or path_prefix (an HTTP route)';
      problems.push({ path: r.model_pattern === null ? 'model_pattern' : 'path_prefix', message });
      return problems;
    }
    if (r.model_pattern !== null) {
      if (r.providers.length === 0)
        problems.push({ path: 'providers', message: 'an LLM route needs at least one provider' });
      for (const f of ['methods', 'service_id', 'backend_url'] as const) {
        if (f === 'methods' ? r.methods.length : r[f] !== null)
          problems.push({ path: f, message: 'applies to HTTP routes only (path_prefix)' });
      }
    } else {
      if ((r.service_id === null) === (r.backend_url === null))
        problems.push({ path: 'backend_url', message: 'an HTTP route needs exactly one of service_id or backend_url' });
      if (r.providers.length)
        problems.push({ path: 'providers', message: 'applies to LLM routes only (model_pattern)' });
    }
    return problems;
  },
});
