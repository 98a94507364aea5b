import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CallContext } from '../control/caller';
import { fieldsOf } from '../control/resource-input';
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
import { asDef, assertReadOnlyUnchanged, atEntityFields, patchOf, type PortalResources } from './resource-access';
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
  const routeDef = asDef(route);
  const svcDef = asDef(serviceDef);
  const keyDef = asDef(apiKey);
  const now = () => new Date().toISOString();
  const isHttp = (r: Record<string, unknown>) => r.path_prefix !== null;

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
    async (req) => {
      const rows = await portal.listOwn(contextOf(req), routeDef, req.params.tenantId);
      return rows.filter((r) => isHttp(r) && r.deleted_at === null).map(toRouteEntity);
    },
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
      const body = { ...routeFields(req.body), tenant_id: tenantId };
      const made = await atEntityFields(ROUTE_FIELDS, () => service.create(ctx, routeDef, body));
      return reply.code(201).send(toRouteEntity(made));
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
      const { tenantId, id } = req.params;
      const current = await portal.getOwn(ctx, routeDef, tenantId, id, isHttp);
      assertReadOnlyUnchanged(req.body, toRouteEntity(current));
      if (req.body.serviceId !== undefined) await portal.assertLiveService(ctx, tenantId, String(req.body.serviceId));
      const body = { ...fieldsOf(routeDef, current), ...routeFields(req.body) };
      const target = { id, owner: tenantId };
      return toRouteEntity(await atEntityFields(ROUTE_FIELDS, () => service.update(ctx, routeDef, target, body)));
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
      const ctx = contextOf(req);
      const { tenantId, id } = req.params;
      const current = await portal.getOwn(ctx, routeDef, tenantId, id, isHttp);
      const body = { ...fieldsOf(routeDef, current), enabled: false, deleted_at: now() };
      await service.update(ctx, routeDef, { id, owner: tenantId }, body);
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
    async (req) => {
      const rows = await portal.listOwn(contextOf(req), svcDef, req.params.tenantId);
      return rows.filter((s) => s.deleted_at === null).map(toServiceEntity);
    },
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
    async (req, reply) => {
      const body = { ...serviceFields(req.body), tenant_id: req.params.tenantId };
      const made = await atEntityFields(SERVICE_FIELDS, () => service.create(contextOf(req), svcDef, body));
      return reply.code(201).send(toServiceEntity(made));
    },
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
    async (req) => {
      const ctx = contextOf(req);
      const { tenantId, id } = req.params;
      const current = await portal.getOwn(ctx, svcDef, tenantId, id);
      assertReadOnlyUnchanged(req.body, toServiceEntity(current));
      const body = { ...fieldsOf(svcDef, current), ...serviceFields(req.body) };
      const target = { id, owner: tenantId };
      return toServiceEntity(await atEntityFields(SERVICE_FIELDS, () => service.update(ctx, svcDef, target, body)));
    },
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
      const ctx = contextOf(req);
      const { tenantId, id } = req.params;
      const current = await portal.getOwn(ctx, svcDef, tenantId, id);
      await service.update(ctx, svcDef, { id, owner: tenantId }, { ...fieldsOf(svcDef, current), deleted_at: now() });
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
