import { z } from 'zod';
import { routePlugin } from '../http/route-plugin';
import { checkedByHandler, ZOD_SCHEMAS } from '../http/route-schemas';
import type { ResourceDefinition } from '../resources/define';
import { rollbackBody, schemasFor, secretActionBody } from '../resources/schemas';
import { BEARER_AUTH } from './authenticate';
import { bulkBody, servesBulkSecrets, createWithSecrets, MAX_BULK } from './bulk-secrets';
import type { ResourceService } from './resource-service';
import { callContext } from './request-state';

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(512).optional(),
  tenant_id: z.string().max(63).optional(),
});
/** Ids are unique per tenant: a platform caller names the owner of an id several tenants use. */
export const ownerQuery = z.strictObject({ tenant_id: z.string().max(63).optional() });
const deleteQuery = ownerQuery.extend({ cascade: z.enum(['true', 'false']).optional() });

const listOf = (item: z.ZodType) =>
  z.object({ object: z.literal('list'), data: z.array(item), next_cursor: z.string().nullable() });

/** Path parameters: `tenant_id` on paths nested under a tenant (tenants/{tenant_id}/keys), `id` of one resource. */
const collectionParams = z.object({ tenant_id: z.string().optional() });
const oneParams = collectionParams.extend({ id: z.string() });

/** The resource a request names: its id, and its owner (a nested path's tenant, else `?tenant_id=`). */
export const targetOf = (req: { params: { id: string; tenant_id?: string }; query: { tenant_id?: string } }) => ({
  id: req.params.id,
  owner: req.params.tenant_id ?? req.query.tenant_id,
});

/**
 * The REST endpoints of one resource, derived from its definition:
 * POST {path} · GET {path} · GET/PUT/DELETE {path}/{id} · POST {path}/{id}/{action}.
 * Bodies are documented here and checked by the service, after the scope and role checks (see checkedByHandler).
 */
export const resourceRoutes = routePlugin<{ service: ResourceService; def: ResourceDefinition }>(
  'portico-resource-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { service, def }) => {
    const base = def.path.replace(/\{([a-z_]+)\}/g, ':$1');
    const one = `${base}/:id`;
    const schemas = schemasFor(def);
    const tags = [def.plural];
    const title = def.title.toLowerCase();
    const created =
      def.secret?.mode === 'generated' ? schemas.output.extend({ [def.secret.field]: z.string() }) : schemas.output;

    app.post(
      base,
      {
        schema: {
          summary: `Create ${title}`,
          tags,
          params: collectionParams,
          body: checkedByHandler(schemas.create),
          response: { 201: created },
        },
      },
      async (req, reply) => {
        reply.status(201);
        return service.create(callContext(req), def, req.body, { pathTenant: req.params.tenant_id });
      },
    );

    if (servesBulkSecrets(def) && def.path.includes('{tenant_id}')) {
      app.post(
        `${base}/bulk`,
        {
          schema: {
            summary: `Create up to ${MAX_BULK} ${tags[0]!.toLowerCase()} at once (each plaintext shown once)`,
            tags,
            params: z.object({ tenant_id: z.string() }),
            body: checkedByHandler(bulkBody(schemas.create)),
            response: { 201: listOf(created) },
          },
        },
        async (req, reply) => {
          const { gw, scope } = service;
          const answer = await createWithSecrets(gw, scope, callContext(req), def, req.body, req.params.tenant_id);
          reply.status(201);
          return answer;
        },
      );
    }

    app.get(
      base,
      {
        schema: {
          summary: `List ${tags[0]!.toLowerCase()}`,
          tags,
          params: collectionParams,
          querystring: listQuery,
          response: { 200: listOf(schemas.output) },
        },
      },
      async (req) => service.list(callContext(req), def, req.query, req.params.tenant_id),
    );

    app.get(
      one,
      {
        schema: {
          summary: `Get ${title}`,
          tags,
          params: oneParams,
          querystring: ownerQuery,
          response: { 200: schemas.output },
        },
      },
      async (req) => service.get(callContext(req), def, targetOf(req)),
    );

    if (def.updatable !== false) {
      app.put(
        one,
        {
          schema: {
            summary: `Replace ${title}`,
            tags,
            params: oneParams,
            querystring: ownerQuery,
            body: checkedByHandler(schemas.update),
            response: { 200: schemas.output },
          },
        },
        async (req) => service.update(callContext(req), def, targetOf(req), req.body),
      );
    }

    const delDoc = def.scope === 'tenant-self' ? ' (409 while it owns resources, unless ?cascade=true)' : '';
    app.delete(
      one,
      {
        schema: {
          summary: `Delete ${title}${delDoc}`,
          tags,
          params: oneParams,
          querystring: deleteQuery,
          response: { 204: z.null() },
        },
      },
      async (req, reply) => {
        const cascade = req.query.cascade === 'true';
        await service.remove(callContext(req), def, targetOf(req), { cascade });
        return reply.status(204).send();
      },
    );

    if (def.versioned) {
      const actor = z.object({ type: z.string(), id: z.string(), name: z.string() });
      const version = z.object({ version: z.number(), config: def.fields, created_at: z.string(), actor });
      app.get(
        `${one}/versions`,
        {
          schema: {
            summary: `The last 10 versions of a ${title}, newest first`,
            tags,
            params: oneParams,
            querystring: ownerQuery,
            response: { 200: listOf(version) },
          },
        },
        async (req) => service.versions(callContext(req), def, targetOf(req)),
      );
      app.post(
        `${one}/rollback`,
        {
          schema: {
            summary: `Roll back: a new version holding version n's configuration`,
            tags,
            params: oneParams,
            querystring: ownerQuery,
            body: checkedByHandler(rollbackBody),
            response: { 200: schemas.output },
          },
        },
        async (req) => service.rollback(callContext(req), def, targetOf(req), req.body),
      );
    }

    for (const [action, spec] of Object.entries(def.actions ?? {})) {
      const body = spec.takesSecret && def.secret ? checkedByHandler(secretActionBody(def.secret.field)) : undefined;
      app.post(
        `${one}/${action}`,
        {
          schema: {
            summary: `${action[0]!.toUpperCase()}${action.slice(1)} ${title}`,
            tags,
            params: oneParams,
            querystring: ownerQuery,
            ...(body ? { body } : {}),
            response: { 200: schemas.output },
          },
        },
        async (req) => service.action(callContext(req), def, targetOf(req), action, req.body),
      );
    }
  },
);
