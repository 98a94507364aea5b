import { z } from 'zod';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { BEARER_AUTH } from './authenticate';
import { isoDateParam } from '../lib/iso-date';
import { listErrorEvents, lockErrorEvent, markErrorEventResolved } from '../store/error-events';
import { latestHealthSnapshots, listHealthSnapshots } from '../store/health-snapshots';
import { listRequestLogs } from '../store/request-logs';
import { actorOf } from './caller';
import { allows } from './permissions';
import type { ResourceService } from './resource-service';
import { callContext } from './request-state';
import { iso, pageQuery, timeCursor, timePage } from './time-page';

const when = isoDateParam();
const range = { from: when.optional(), to: when.optional() };

const logQuery = z.strictObject({
  tenant_id: z.string().max(63).optional(),
  api_key_id: z.string().max(100).optional(),
  route_id: z.string().max(100).optional(),
  kind: z.enum(['llm', 'http']).optional(),
  status: z.coerce.number().int().min(100).max(599).optional(),
  path: z.string().max(1024).optional(),
  ...range,
  ...pageQuery,
});
const errorQuery = z.strictObject({
  tenant_id: z.string().max(63).optional(),
  route_id: z.string().max(100).optional(),
  resolved: z.enum(['true', 'false']).optional(),
  ...range,
  ...pageQuery,
});
const healthQuery = z.strictObject({
  tenant_id: z.string().max(63).optional(),
  service_id: z.string().max(100).optional(),
  ...range,
  ...pageQuery,
});

const requestLog = z.object({
  id: z.string(),
  tenant_id: z.string().nullable(),
  api_key_id: z.string().nullable(),
  route_id: z.string().nullable(),
  kind: z.string(),
  method: z.string(),
  path: z.string(),
  status: z.number(),
  latency_ms: z.number(),
  request_id: z.string(),
  error_code: z.string().nullable(),
  schema_validation: z.enum(['passed', 'failed']).nullable(),
  client_ip: z.string().nullable(),
  created_at: z.string(),
});
const errorEvent = z.object({
  id: z.string(),
  tenant_id: z.string().nullable(),
  route_id: z.string().nullable(),
  request_id: z.string(),
  status: z.number(),
  code: z.string(),
  message: z.string(),
  upstream: z.string().nullable(),
  resolved: z.boolean(),
  resolved_at: z.string().nullable(),
  created_at: z.string(),
});
const healthSnapshot = z.object({
  id: z.string(),
  tenant_id: z.string().nullable(),
  service_id: z.string(),
  status: z.enum(['UP', 'DOWN']),
  status_code: z.number().nullable(),
  latency_ms: z.number(),
  error: z.string().nullable(),
  checked_at: z.string(),
});
const list = (item: z.ZodType) =>
  z.object({ object: z.literal('list'), data: z.array(item), next_cursor: z.string().nullable() });

const latestQuery = z.strictObject({ tenant_id: z.string().max(63).optional() });

const toErrorEvent = (r: Record<string, unknown>) => ({
  ...r,
  resolved_at: r.resolved_at ? iso(r.resolved_at) : null,
  created_at: iso(r.created_at),
});

/**
 * What the data plane recorded: request logs, error events (and resolving them), and service health snapshots.
 * Read under the `routes` area; a tenant caller sees its own tenant's (and, for health, global services').
 */
export const trafficRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-traffic-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    const tags = ['Traffic'];

    app.get(
      '/request-logs',
      {
        schema: {
          summary: 'Data-plane request logs, newest first',
          tags,
          querystring: logQuery,
          response: { 200: list(requestLog) },
        },
      },
      async (req) => {
        const q = req.query;
        const tenant = await service.scope.readScope(callContext(req), 'routes', q.tenant_id, 'read request logs');
        // a key's requests are its tenant's: that narrows the scan to the tenant's index range
        const owner = q.api_key_id === undefined ? undefined : gw.snapshot.get('api_key', q.api_key_id)?.tenant_id;
        const filter = {
          ...q,
          tenant_id: tenant || (typeof owner === 'string' ? owner : undefined),
          path_prefix: q.path,
        };
        const { rows, next } = await listRequestLogs(gw.db, filter, timePage(q));
        const data = rows.map((r) => ({ ...r, created_at: iso(r.created_at) }));
        return { object: 'list', data, next_cursor: timeCursor(next) };
      },
    );

    app.get(
      '/error-events',
      {
        schema: {
          summary: 'Data-plane error events (5xx), newest first',
          tags,
          querystring: errorQuery,
          response: { 200: list(errorEvent) },
        },
      },
      async (req) => {
        const q = req.query;
        const tenant = await service.scope.readScope(callContext(req), 'routes', q.tenant_id, 'read error events');
        const resolved = q.resolved === undefined ? undefined : q.resolved === 'true';
        const { rows, next } = await listErrorEvents(gw.db, { ...q, tenant_id: tenant, resolved }, timePage(q));
        return { object: 'list', data: rows.map(toErrorEvent), next_cursor: timeCursor(next) };
      },
    );

    app.post(
      '/error-events/:id/resolve',
      {
        schema: {
          summary: 'Mark an error event resolved',
          tags,
          params: z.object({ id: z.string() }),
          response: { 200: errorEvent },
        },
      },
      async (req) => {
        const ctx = callContext(req);
        const { id } = req.params;
        return gw.db.transaction().execute(async (tx) => {
          const event = await lockErrorEvent(tx, id);
          if (!event || (ctx.caller.tenantId && event.tenant_id !== ctx.caller.tenantId)) {
            throw new ApiError('NOT_FOUND', `Error event "${id}" not found`);
          }
          await service.scope.readScope(ctx, 'routes', event.tenant_id ?? undefined, 'resolve error events');
          if (!allows(ctx.caller.role, 'routes', 'write')) {
            throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not resolve error events`);
          }
          if (event.resolved) return toErrorEvent(event);
          const updated = await markErrorEventResolved(tx, id);
          const resource = { kind: 'error_event', id };
          const audit = {
            type: 'ERROR_EVENT_RESOLVED',
            actor: actorOf(ctx.caller),
            tenant_id: event.tenant_id,
            resource,
          };
          await gw.audit.append(tx, [{ ...audit, changes: { code: event.code }, trace_id: ctx.traceId ?? null }]);
          return toErrorEvent(updated);
        });
      },
    );

    app.get(
      '/health-snapshots',
      {
        schema: {
          summary: 'Service health checks, newest first',
          tags,
          querystring: healthQuery,
          response: { 200: list(healthSnapshot) },
        },
      },
      async (req) => {
        const q = req.query;
        const tenant = await service.scope.readScope(callContext(req), 'routes', q.tenant_id, 'read service health');
        const { rows, next } = await listHealthSnapshots(gw.db, { ...q, visible_to: tenant }, timePage(q));
        const data = rows.map((r) => ({ ...r, checked_at: iso(r.checked_at) }));
        return { object: 'list', data, next_cursor: timeCursor(next) };
      },
    );

    app.get(
      '/health-snapshots/latest',
      {
        schema: {
          summary: 'The latest health check of each service',
          tags,
          querystring: latestQuery,
          response: { 200: list(healthSnapshot) },
        },
      },
      async (req) => {
        const tenant = await service.scope.readScope(
          callContext(req),
          'routes',
          req.query.tenant_id,
          'read service health',
        );
        const rows = await latestHealthSnapshots(gw.db, tenant);
        const data = rows.map((r) => ({ ...r, checked_at: iso(r.checked_at) }));
        return { object: 'list', data, next_cursor: null };
      },
    );
  },
);
