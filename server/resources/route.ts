import { z } from 'zod';
import { defineResource } from './define';

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const url = () => z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);

export const provider = z.strictObject({
  provider: z.string().min(1).max(64),
  model: z.string().min(1).max(200).nullable().default(null),
  base_url: url().nullable().default(null),
  credential_id: z.string().min(1).max(100).nullable().default(null),
  weight: z.number().int().min(0).max(10_000).default(1),
  timeout_ms: z.number().int().min(1).max(600_000).nullable().default(null),
});

export const rateLimit = z.strictObject({
  limit: z.number().int().min(1).max(1_000_000_000),
  window_secs: z.number().int().min(1).max(31_536_000),
});

/** When an upstream's circuit opens: after `failure_threshold` failures in a row; it half-opens after `cooldown_ms`. */
export const circuitBreaker = z.strictObject({
  failure_threshold: z.number().int().min(1).max(10_000).default(5),
  cooldown_ms: z.number().int().min(100).max(3_600_000).default(30_000),
});

/**
 * One resource, two kinds: an LLM route (`model_pattern`, `strategy`, `providers`) or an HTTP route (`path_prefix`,
 * `methods`, `service_id` or `backend_url`, …). Every change is a new version; the last 10 are kept.
 */
export const route = defineResource({
  kind: 'route',
  title: 'Route',
  description: 'Where traffic goes: an LLM route by model pattern, or an HTTP route by path prefix. Versioned, with rollback.',
  path: '/routes',
  exportKey: 'routes',
  scope: 'tenant-optional',
  area: 'routes',
  id: { source: 'either', prefix: 'rt_' },
  versioned: true,
  fields: z.strictObject({
    description: z.string().max(1000).default(''),
    enabled: z.boolean().default(true),
    priority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
    model_pattern: z.string().min(1).max(200).nullable().default(null),
    strategy: z.enum(['model-prefix', 'fallback', 'weighted', 'round-robin']).default('model-prefix'),
    providers: z.array(provider).max(32).default([]),
    path_prefix: z.string().regex(/^\/[^\s?#]*$/, 'must start with "/" and hold no spaces, "?" or "#"').max(1024).nullable().default(null),
    methods: z.array(z.enum(HTTP_METHODS)).max(HTTP_METHODS.length).default([]),
    service_id: z.string().min(1).max(100).nullable().default(null),
    backend_url: url().nullable().default(null),
    strip_prefix: z.boolean().default(false),
    auth_required: z.boolean().default(true),
    timeout_ms: z.number().int().min(1).max(600_000).default(30_000),
    rate_limit: rateLimit.nullable().default(null),
    circuit_breaker: circuitBreaker.nullable().default(null),
  }),
  computed: z.strictObject({ version: z.number().int().default(1) }),
  references: { service_id: 'service' },
  // An HTTP route's path belongs to its owner, so no tenant can receive traffic meant for another (or the platform).
  claims: { field: 'path_prefix' },
  targets: ['backend_url', 'providers.*.base_url'],
  audit: { created: 'ROUTE_CREATED', updated: 'ROUTE_UPDATED', deleted: 'ROUTE_DELETED', rolledBack: 'ROUTE_ROLLED_BACK' },
  check: (r) => {
    const problems: { path: string; message: string }[] = [];
    if ((r.model_pattern === null) === (r.path_prefix === null)) {
      const message = 'give exactly one of model_pattern (an LLM route) or path_prefix (an HTTP route)';
      problems.push({ path: r.model_pattern === null ? 'model_pattern' : 'path_prefix', message });
      return problems;
    }
    if (r.model_pattern !== null) {
      if (r.providers.length === 0) problems.push({ path: 'providers', message: 'an LLM route needs at least one provider' });
      for (const f of ['methods', 'service_id', 'backend_url'] as const) {
        if (f === 'methods' ? r.methods.length : r[f] !== null) problems.push({ path: f, message: 'applies to HTTP routes only (path_prefix)' });
      }
    } else {
      if ((r.service_id === null) === (r.backend_url === null)) problems.push({ path: 'backend_url', message: 'an HTTP route needs exactly one of service_id or backend_url' });
      if (r.providers.length) problems.push({ path: 'providers', message: 'applies to LLM routes only (model_pattern)' });
    }
    return problems;
  },
});
