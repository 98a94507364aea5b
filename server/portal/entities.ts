import { z } from 'zod';
import type { PublicResource } from '../control/resource-list';

/**
 * Seed 004's camelCase entities over the admin API's resources: a route is an HTTP route (`path_prefix`), a service
 * a service, a consumer an API key. Each entity's field maps to one resource field, so a validation error on the
 * resource can be reported at the entity's field.
 */

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', '*'] as const;
const when = z.string().nullable();

export const routeEntity = z.object({
  id: z.string(),
  tenantId: z.string(),
  method: z.string().describe('One HTTP method, or `*` for every method.'),
  pathPattern: z.string().describe('The path prefix it serves (this path and those under it).'),
  serviceId: z.string().nullable(),
  authRequired: z.boolean(),
  rateLimitOverride: z
    .number()
    .int()
    .nullable()
    .describe('Requests per minute per consumer on this route; null: none.'),
  enabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deletedAt: when,
});

export const routeInput = z.strictObject({
  method: z.enum(METHODS),
  pathPattern: z.string().min(1).max(1024),
  serviceId: z.string().min(1).max(100),
  authRequired: z.boolean(),
  rateLimitOverride: z.number().int().min(1).max(1_000_000_000).nullable().optional(),
  enabled: z.boolean().optional(),
});

export const serviceEntity = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  targetUrl: z.string(),
  healthCheckPath: z.string().nullable(),
  timeoutMs: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deletedAt: when,
});

export const serviceInput = z.strictObject({
  name: z.string().min(1).max(200),
  targetUrl: z.string().min(1).max(2048),
  healthCheckPath: z.string().min(1).max(1024).nullable().optional(),
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
});

export const consumerEntity = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  rateLimitTier: z.string().nullable(),
  keyPrefix: z.string().describe('The first characters of its API key, to recognise it.'),
  lastUsedAt: when,
  createdAt: z.string(),
  revokedAt: when,
});

export const consumerInput = z.strictObject({
  name: z.string().min(1).max(200),
  rateLimitTier: z.string().min(1).max(64).nullable().optional(),
});

/** What may be sent back unchanged in a PATCH (a client echoing the entity): anything else there is read-only. */
export const READ_ONLY = ['id', 'tenantId', 'createdAt', 'updatedAt', 'deletedAt'] as const;

/** Entity field → resource field, for requests and for reporting errors at the entity's field. */
export const ROUTE_FIELDS = {
  method: 'methods',
  pathPattern: 'path_prefix',
  serviceId: 'service_id',
  authRequired: 'auth_required',
  rateLimitOverride: 'rate_limit',
  enabled: 'enabled',
} as const;
export const SERVICE_FIELDS = {
  name: 'name',
  targetUrl: 'target_url',
  healthCheckPath: 'health_check_path',
  timeoutMs: 'timeout_ms',
} as const;
export const CONSUMER_FIELDS = { name: 'name', rateLimitTier: 'rate_limit_tier' } as const;

const PER_MINUTE = 60;

/** A route's fields from (part of) a route entity. */
export function routeFields(input: Partial<z.infer<typeof routeInput>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input.method !== undefined) out.methods = input.method === '*' ? [] : [input.method];
  if (input.pathPattern !== undefined) out.path_prefix = input.pathPattern;
  if (input.serviceId !== undefined) out.service_id = input.serviceId;
  if (input.authRequired !== undefined) out.auth_required = input.authRequired;
  if (input.rateLimitOverride !== undefined)
    out.rate_limit =
      input.rateLimitOverride === null ? null : { limit: input.rateLimitOverride, window_secs: PER_MINUTE };
  if (input.enabled !== undefined) out.enabled = input.enabled;
  return out;
}

/** A service's fields from (part of) a service entity. */
export function serviceFields(input: Partial<z.infer<typeof serviceInput>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [from, to] of Object.entries(SERVICE_FIELDS)) {
    const value = input[from as keyof typeof SERVICE_FIELDS];
    if (value !== undefined) out[to] = value;
  }
  return out;
}

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

export function toRouteEntity(r: PublicResource): z.infer<typeof routeEntity> {
  const methods = r.methods as string[];
  const limit = r.rate_limit as { limit: number; window_secs: number } | null;
  return {
    id: r.id,
    tenantId: String(r.tenant_id),
    method: methods.length === 0 ? '*' : methods.join(','),
    pathPattern: String(r.path_prefix),
    serviceId: str(r.service_id),
    authRequired: r.auth_required as boolean,
    // a window other than a minute (set through the admin API) shows as its per-minute rate, rounded up
    rateLimitOverride: limit ? Math.ceil((limit.limit * PER_MINUTE) / limit.window_secs) : null,
    enabled: r.enabled as boolean,
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    deletedAt: str(r.deleted_at),
  };
}

export function toServiceEntity(s: PublicResource): z.infer<typeof serviceEntity> {
  return {
    id: s.id,
    tenantId: String(s.tenant_id),
    name: String(s.name),
    targetUrl: String(s.target_url),
    healthCheckPath: str(s.health_check_path),
    timeoutMs: s.timeout_ms as number,
    createdAt: String(s.created_at),
    updatedAt: String(s.updated_at),
    deletedAt: str(s.deleted_at),
  };
}

export function toConsumerEntity(k: PublicResource): z.infer<typeof consumerEntity> {
  return {
    id: k.id,
    tenantId: String(k.tenant_id),
    name: String(k.name),
    rateLimitTier: str(k.rate_limit_tier),
    keyPrefix: String(k.prefix),
    lastUsedAt: str(k.last_used_at),
    createdAt: String(k.created_at),
    revokedAt: str(k.revoked_at),
  };
}
