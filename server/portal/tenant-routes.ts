import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CallContext } from '../control/caller';
import type { RoutesPlugin } from '../http/route-plugin';
import { apiKey } from '../resources/api-key';
import { route } from '../resources/route';
import { service as serviceDef } from '../resources/service';
import {
  CONSUMER_FIELDS,
  consumerEntity,
  consumerInput,
  ROUTE_FIELDS,
  routeEntity,
  routeFields,
  routeInput,
  SERVICE_FIELDS,
  serviceEntity,
  serviceFields,
  serviceInput,
  toConsumerEntity,
  toRouteEntity,
  toServiceEntity,
} from './entities';
import { asDef, atEntityFields, patchOf, type PortalEntity, type PortalResources } from './resource-access';
import type { PortalSessions } from './session';

const PORTAL_CONTEXT = Symbol('portico.portal.context');

declare module 'fastify' {
  interface FastifyRequest {
    [PORTAL_CONTEXT]?: CallContext;
  }
}

const tenantParams = z.object({ tenantId: z.string().max(63) });
const oneParams = tenantParams.extend({ id: z.string().max(200) });
const noContent = { 204: z.null() };
const security = [{ portalJwt: [] }];

const contextOf = (req: FastifyRequest) => req[PORTAL_CONTEXT]!;

/** A portal route is an HTTP route (an LLM route has no path prefix). */
const isHttp = (r: Record<string, unknown>) => r.path_prefix !== null;
const ROUTES: PortalEntity<ReturnType<typeof toRouteEntity>> = {
  def: asDef(route),
  fields: ROUTE_FIELDS,
  fromBody: routeFields,
  toEntity: toRouteEntity,
  usable: isHttp,
};
const SERVICES: PortalEntity<ReturnType<typeof toServiceEntity>> = {
  def: asDef(serviceDef),
  fields: SERVICE_FIELDS,
  fromBody: serviceFields,
  toEntity: toServiceEntity,
};

/**
 * `/api/tenants/:tenantId/{routes,services,consumers}` (seed 004), over the same resource service as the admin API:
 * roles, audit and live propagation apply as they do there. Every request's session is checked, and its tenant
 * against `:tenantId`, before its body is validated (a hook), so another tenant's path is always a 403.
 */
export const tenantRoutes: RoutesPlugin<{ sessions: PortalSessions; portal: PortalResources }> = async (
  app,
  { sessions, portal },
) => {
  app.addHook('preValidation', async (req) => {
    const { tenantId } = req.params as { tenantId: string };
    req[PORTAL_CONTEXT] = await sessions.contextFor(req, tenantId);
  });
  const { service } = portal;
  const keyDef = asDef(apiKey);

  // ---- routes --------------------------------------------------------------------------------------------------
  let tags = ['Portal: routes'];
  app.get(
    '/routes',
    {
      schema: {
        summary: 'List the non-deleted routes',
        tags,
        security,
        params: tenantParams,
        response: { 200: z.array(routeEntity) },
      },
    },
    async (req) => portal.listEntities(ROUTES, contextOf(req), req.params.tenantId),
  );
  app.post(
    '/routes',
    {
      schema: {
        summary: 'Create a route',
        tags,
        security,
        params: tenantParams,
        body: routeInput,
        response: { 201: routeEntity },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { tenantId } = req.params;
      await portal.assertLiveService(ctx, tenantId, req.body.serviceId);
      return reply.code(201).send(await portal.createOwn(ROUTES, ctx, tenantId, req.body));
    },
  );
  app.patch(
    '/routes/:id',
    {
      schema: {
        summary: 'Update a route (partial)',
        tags,
        security,
        params: oneParams,
        body: patchOf(routeInput),
        response: { 200: routeEntity },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { tenantId } = req.params;
      const serviceId = req.body.serviceId;
      const check = async () => {
        if (serviceId !== undefined) await portal.assertLiveService(ctx, tenantId, String(serviceId));
      };
      return portal.patchOwn(ROUTES, ctx, req.params, req.body, check);
    },
  );
  app.delete(
    '/routes/:id',
    {
      schema: {
        summary: 'Soft-delete a route (sets deletedAt)',
        tags,
        security,
        params: oneParams,
        response: noContent,
      },
    },
    async (req, reply) => {
      await portal.softDelete(ROUTES, contextOf(req), req.params, { enabled: false });
      return reply.code(204).send();
    },
  );

  // ---- services ------------------------------------------------------------------------------------------------
  tags = ['Portal: services'];
  app.get(
    '/services',
    {
      schema: {
        summary: 'List the non-deleted services',
        tags,
        security,
        params: tenantParams,
        response: { 200: z.array(serviceEntity) },
      },
    },
    async (req) => portal.listEntities(SERVICES, contextOf(req), req.params.tenantId),
  );
  app.post(
    '/services',
    {
      schema: {
        summary: 'Create a downstream service',
        tags,
        security,
        params: tenantParams,
        body: serviceInput,
        response: { 201: serviceEntity },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await portal.createOwn(SERVICES, contextOf(req), req.params.tenantId, req.body)),
  );
  app.patch(
    '/services/:id',
    {
      schema: {
        summary: 'Update a service (partial)',
        tags,
        security,
        params: oneParams,
        body: patchOf(serviceInput),
        response: { 200: serviceEntity },
      },
    },
    async (req) => portal.patchOwn(SERVICES, contextOf(req), req.params, req.body),
  );
  app.delete(
    '/services/:id',
    {
      schema: {
        summary: 'Soft-delete a service (its routes fail until reassigned)',
        tags,
        security,
        params: oneParams,
        response: noContent,
      },
    },
    async (req, reply) => {
      await portal.softDelete(SERVICES, contextOf(req), req.params);
      return reply.code(204).send();
    },
  );

  // ---- consumers (API keys) ------------------------------------------------------------------------------------
  tags = ['Portal: consumers'];
  const active = (k: Record<string, unknown>) => k.status === 'ACTIVE';
  app.get(
    '/consumers',
    {
      schema: {
        summary: 'List the active (non-revoked) consumers',
        tags,
        security,
        params: tenantParams,
        response: { 200: z.array(consumerEntity) },
      },
    },
    async (req) =>
      (await portal.listOwn(contextOf(req), keyDef, req.params.tenantId)).filter(active).map(toConsumerEntity),
  );
  const created = consumerEntity.extend({ apiKey: z.string().describe('The API key, in this response only.') });
  app.post(
    '/consumers',
    {
      schema: {
        summary: 'Create a consumer and its API key (shown once)',
        tags,
        security,
        params: tenantParams,
        body: consumerInput,
        response: { 201: created },
      },
    },
    async (req, reply) => {
      const body = { name: req.body.name, rate_limit_tier: req.body.rateLimitTier ?? null };
      const options = { pathTenant: req.params.tenantId };
      const made = await atEntityFields(CONSUMER_FIELDS, () => service.create(contextOf(req), keyDef, body, options));
      return reply.code(201).send({ ...toConsumerEntity(made), apiKey: String(made.key) });
    },
  );
  app.delete(
    '/consumers/:id',
    {
      schema: {
        summary: 'Revoke a consumer: its API key stops working at once',
        tags,
        security,
        params: oneParams,
        response: noContent,
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { tenantId, id } = req.params;
      await portal.getOwn(ctx, keyDef, tenantId, id, active);
      await service.action(ctx, keyDef, { id, owner: tenantId }, 'revoke');
      return reply.code(204).send();
    },
  );
};
