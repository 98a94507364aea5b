import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError, notFound } from '../../errors';
import type { Gateway } from '../../gateway';
import { ADMIN_INPUT, refuseUnsafeInput } from '../../http/input-guard';
import { routePlugin } from '../../http/route-plugin';
import { ZOD_SCHEMAS } from '../../http/route-schemas';
import { RESOURCES } from '../../resources';
import type { AuditActor } from '../../store/schema';
import { someNodeHolds, tenantConfigSeq } from '../../store/gateway-nodes';
import { GRANULARITIES, tenantRollups } from '../../store/metric-rollups';
import {
  resolveTenantErrorEvent,
  tenantErrorEvents,
  tenantLatestHealth,
  tenantRequestLogs,
} from '../../store/tenant-readouts';
import { HEARTBEAT_MS } from './node-heartbeat';
import * as q from './queries';
import * as shapes from './shapes';

export interface PortalReadoutOptions {
  gw: Gateway;
  /** The caller's tenant, checked against the path's `:tenantId`; throws (401/403) when the caller may not read it. */
  tenantOf: (req: FastifyRequest) => Promise<string>;
  /** Who resolved an error event, for the audit log (default: the tenant portal acting for the tenant). */
  actorOf?: (req: FastifyRequest, tenantId: string) => AuditActor;
  /** A node counts as serving while its last report is this recent (default: three heartbeats). */
  nodeFreshMs?: number;
}

/** The kinds a data-plane node holds: a change to one of them is a new configuration version for the traffic. */
const SNAPSHOT_KINDS = RESOURCES.filter((r) => r.snapshot !== false).map((r) => r.kind);
/** The roles that run a data plane. */
const SERVING_ROLES = ['all', 'data'];

const portalActor = (_req: FastifyRequest, tenantId: string): AuditActor => ({
  type: 'tenant_portal',
  id: tenantId,
  name: `tenant portal (${tenantId})`,
});

/**
 * Seed 004's read-outs under `/tenants/:tenantId/`: request logs, error events (and resolving one), the latest health
 * of each service, rolled-up metrics and whether a data-plane node serves the tenant's current configuration. Every
 * read is narrowed to the caller's tenant, whatever the query says.
 */
export const portalReadoutRoutes = routePlugin<PortalReadoutOptions>(
  'portico-portal-readouts',
  [ZOD_SCHEMAS],
  async (app, { gw, tenantOf, actorOf = portalActor, nodeFreshMs = 3 * HEARTBEAT_MS }) => {
    const tags = ['Portal read-outs'];
    // NUL and unpaired surrogates are a 400 naming the field, even where the app has no input guard of its own
    app.addHook('preValidation', async (req) => {
      refuseUnsafeInput(req.params, ADMIN_INPUT);
      refuseUnsafeInput(req.query, ADMIN_INPUT);
      refuseUnsafeInput(req.body, ADMIN_INPUT);
    });
    // one check for every read-out, after the input guard: the caller's tenant, which must be the path's, kept on the
    // request for the handler (401/403 before the query or body is looked at)
    app.decorateRequest('readoutTenant', '');
    app.addHook('preValidation', async (req) => {
      const { tenantId } = req.params as { tenantId: string };
      const tenant = await tenantOf(req);
      if (tenant !== tenantId)
        throw new ApiError('TENANT_SCOPE_VIOLATION', `The caller may not read tenant "${tenantId}"`);
      req.readoutTenant = tenant;
    });
    const base = '/tenants/:tenantId';

    app.get(
      `${base}/logs`,
      {
        schema: {
          summary: 'The tenant’s request logs, newest first, 50 a page',
          tags,
          params: q.tenantParams,
          querystring: q.logsQuery,
          response: { 200: z.array(shapes.requestLogShape) },
        },
      },
      async (req) => {
        const tenant = req.readoutTenant;
        const { page, path, statusCode, consumerId, ...range } = req.query;
        const filter = { ...range, path_prefix: path, status: statusCode, api_key_id: consumerId };
        const rows = await tenantRequestLogs(gw.db, tenant, filter, { page, size: q.PAGE_SIZE });
        return rows.map(shapes.toRequestLog);
      },
    );

    app.get(
      `${base}/errors`,
      {
        schema: {
          summary: 'The tenant’s error events (failed requests, 5xx), newest first, 50 a page',
          tags,
          params: q.tenantParams,
          querystring: q.errorsQuery,
          response: { 200: z.array(shapes.errorEventShape) },
        },
      },
      async (req) => {
        const tenant = req.readoutTenant;
        const { resolved, page } = req.query;
        const flag = resolved === undefined ? undefined : resolved === 'true';
        const rows = await tenantErrorEvents(gw.db, tenant, flag, { page, size: q.PAGE_SIZE });
        return rows.map(shapes.toErrorEvent);
      },
    );

    for (const method of ['PATCH', 'POST'] as const) {
      app.route({
        method,
        url: `${base}/errors/:id`,
        schema: {
          summary: 'Mark one of the tenant’s error events resolved',
          tags,
          params: q.errorParams,
          body: q.resolveBody,
          response: { 204: z.null().describe('Resolved (also when it already was).') },
        },
        handler: async (req, reply) => {
          const tenant = req.readoutTenant;
          const { id } = req.params;
          await gw.db.transaction().execute(async (tx) => {
            const event = await resolveTenantErrorEvent(tx, tenant, id);
            if (!event) throw notFound(`Error event "${id}"`);
            if (event.resolved) return;
            const entry = {
              type: 'ERROR_EVENT_RESOLVED',
              actor: actorOf(req, tenant),
              tenant_id: tenant,
              resource: { kind: 'error_event', id },
              changes: { code: event.code },
              trace_id: null,
            };
            await gw.audit.append(tx, [entry]);
          });
          return reply.code(204).send();
        },
      });
    }

    app.get(
      `${base}/health`,
      {
        schema: {
          summary: 'The latest health check of each of the tenant’s services',
          tags,
          params: q.tenantParams,
          querystring: q.noQuery,
          response: { 200: z.array(shapes.healthSnapshotShape) },
        },
      },
      async (req) => {
        const tenant = req.readoutTenant;
        const services = gw.snapshot.ownedBy('service', tenant).map((s) => s.id);
        return (await tenantLatestHealth(gw.db, tenant, services)).map(shapes.toHealthSnapshot);
      },
    );

    app.get(
      `${base}/metrics`,
      {
        schema: {
          summary: 'The tenant’s traffic per time bucket over a period (rolled up from request logs by a job)',
          tags,
          params: q.tenantParams,
          querystring: q.metricsQuery,
          response: { 200: z.array(shapes.metricsSnapshotShape) },
        },
      },
      async (req) => {
        const tenant = req.readoutTenant;
        const { ms, granularity } = q.PERIODS[req.query.period];
        const width = GRANULARITIES[granularity];
        const since = new Date(Math.floor((Date.now() - ms) / (width * 1000)) * width * 1000);
        const rows = await tenantRollups(gw.db, tenant, granularity, since);
        return rows.map((r) => shapes.toMetricsSnapshot(r, width));
      },
    );

    app.get(
      `${base}/gateway-status`,
      {
        schema: {
          summary: 'Whether a data-plane node serves the tenant’s traffic with its current configuration',
          tags,
          params: q.tenantParams,
          querystring: q.noQuery,
          response: { 200: shapes.gatewayStatusShape },
        },
      },
      async (req) => {
        const tenant = req.readoutTenant;
        const seq = await tenantConfigSeq(gw.db, tenant, SNAPSHOT_KINDS);
        return { tenantId: tenant, online: await someNodeHolds(gw.db, seq, SERVING_ROLES, nodeFreshMs) };
      },
    );
  },
);

declare module 'fastify' {
  interface FastifyRequest {
    /** The read-outs' tenant: the caller's, checked to be the path's `:tenantId` (set by the plugin's hook). */
    readoutTenant: string;
  }
}
