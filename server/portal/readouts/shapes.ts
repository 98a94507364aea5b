import { z } from 'zod';
import type { ErrorEvent } from '../../store/error-events';
import type { HealthSnapshot } from '../../store/health-snapshots';
import type { MetricRollup } from '../../store/metric-rollups';
import type { RequestLog } from '../../store/request-logs';

/** The portal's read-out records in seed 004's camelCase, and the mapping from their snake_case rows. */

const iso = (v: unknown): string => new Date(v as string).toISOString();
const isoOrNull = (v: unknown): string | null => (v ? iso(v) : null);

export const requestLogShape = z.object({
  id: z.string(),
  tenantId: z.string(),
  consumerId: z.string().nullable().describe('The API key (consumer) that made the request, if one was given.'),
  routeId: z.string().nullable(),
  kind: z.string().describe('`http` or `llm`.'),
  method: z.string(),
  path: z.string(),
  statusCode: z.number(),
  latencyMs: z.number(),
  requestId: z.string(),
  errorCode: z.string().nullable(),
  schemaValidation: z.string().nullable(),
  clientIp: z.string().nullable(),
  createdAt: z.string(),
});

export const toRequestLog = (r: RequestLog): z.infer<typeof requestLogShape> => ({
  id: r.id,
  tenantId: r.tenant_id ?? '',
  consumerId: r.api_key_id,
  routeId: r.route_id,
  kind: r.kind,
  method: r.method,
  path: r.path,
  statusCode: r.status,
  latencyMs: r.latency_ms,
  requestId: r.request_id,
  errorCode: r.error_code,
  schemaValidation: r.schema_validation,
  clientIp: r.client_ip,
  createdAt: iso(r.created_at),
});

export const errorEventShape = z.object({
  id: z.string(),
  tenantId: z.string(),
  routeId: z.string().nullable(),
  requestId: z.string().describe('The failed request (its request log has the same requestId).'),
  statusCode: z.number(),
  code: z.string(),
  message: z.string(),
  upstream: z.string().nullable(),
  resolved: z.boolean(),
  resolvedAt: z.string().nullable(),
  createdAt: z.string(),
});

export const toErrorEvent = (r: ErrorEvent): z.infer<typeof errorEventShape> => ({
  id: r.id,
  tenantId: r.tenant_id ?? '',
  routeId: r.route_id,
  requestId: r.request_id,
  statusCode: r.status,
  code: r.code,
  message: r.message,
  upstream: r.upstream,
  resolved: r.resolved,
  resolvedAt: isoOrNull(r.resolved_at),
  createdAt: iso(r.created_at),
});

export const healthSnapshotShape = z.object({
  id: z.string(),
  tenantId: z.string(),
  serviceId: z.string(),
  status: z.enum(['UP', 'DOWN']),
  statusCode: z.number().nullable(),
  latencyMs: z.number(),
  error: z.string().nullable(),
  checkedAt: z.string(),
});

export const toHealthSnapshot = (r: HealthSnapshot): z.infer<typeof healthSnapshotShape> => ({
  id: r.id,
  tenantId: r.tenant_id ?? '',
  serviceId: r.service_id,
  status: r.status,
  statusCode: r.status_code,
  latencyMs: r.latency_ms,
  error: r.error,
  checkedAt: iso(r.checked_at),
});

export const metricsSnapshotShape = z.object({
  tenantId: z.string(),
  bucketStart: z.string(),
  bucketSeconds: z.number().describe('300 for period 1h, 3600 for 24h and 7d.'),
  requests: z.number(),
  errors: z.number().describe('Answers of 500 and above.'),
  clientErrors: z.number().describe('Answers from 400 to 499.'),
  latencyP50Ms: z.number(),
  latencyP95Ms: z.number(),
  latencyP99Ms: z.number(),
  rolledAt: z.string().describe('When the roll-up job last computed this bucket.'),
});

export const toMetricsSnapshot = (r: MetricRollup, bucketSeconds: number): z.infer<typeof metricsSnapshotShape> => ({
  tenantId: r.tenant_id,
  bucketStart: iso(r.bucket_start),
  bucketSeconds,
  requests: r.requests,
  errors: r.errors,
  clientErrors: r.client_errors,
  latencyP50Ms: r.latency_p50_ms,
  latencyP95Ms: r.latency_p95_ms,
  latencyP99Ms: r.latency_p99_ms,
  rolledAt: iso(r.rolled_at),
});

export const gatewayStatusShape = z.object({ tenantId: z.string(), online: z.boolean() });
