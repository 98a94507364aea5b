import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { validationError } from '../errors';
import { issuesToDetails } from '../lib/zod-errors';
import type { ResourceDefinition } from '../resources/define';
import { isNested, schemasFor } from '../resources/schemas';
import type { ResourceService } from './resource-service';
import { callContext } from './request-state';

export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(512).optional(),
  tenant_id: z.string().max(63).optional(),
});
const deleteQuery = z.strictObject({ cascade: z.enum(['true', 'false']).optional() });

/** Parses a query string with a zod schema; 400 with the parameter names on failure. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const parsed = schema.safeParse(query ?? {});
  if (!parsed.success) throw validationError(issuesToDetails(parsed.error));
  return parsed.data;
}

const listOf = (item: z.ZodType) => z.object({ object: z.literal('list'), data: z.array(item), next_cursor: z.string().nullable() });

/**
 * The REST endpoints of one resource, derived from its definition:
 * POST {path} · GET {path} · GET/PUT/DELETE {path}/{id} · POST {path}/{id}/{action}.
 */
export function registerResourceRoutes(app: FastifyInstance, service: ResourceService, def: ResourceDefinition): void {
  const base = def.path.replace(/\{([a-z_]+)\}/g, ':$1');
  const one = `${base}/:id`;
  const schemas = schemasFor(def);
  const tag = def.plural;
  const pathTenant = (req: FastifyRequest) => (isNested(def) ? (req.params as { tenant_id: string }).tenant_id : undefined);
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;
  const created = def.secret?.mode === 'generated' ? schemas.output.extend({ [def.secret.field]: z.string() }) : schemas.output;

  app.post(base, { config: { openapi: { tag, summary: `Create ${def.title.toLowerCase()}`, body: schemas.create, responses: { 201: created } } } }, async (req, reply) => {
    reply.status(201);
    return service.create(callContext(req), def, req.body, pathTenant(req));
  });

  app.get(base, { config: { openapi: { tag, summary: `List ${tag.toLowerCase()}`, query: listQuery, responses: { 200: listOf(schemas.output) } } } }, async (req) =>
    service.list(callContext(req), def, parseQuery(listQuery, req.query), pathTenant(req)),
  );

  app.get(one, { config: { openapi: { tag, summary: `Get ${def.title.toLowerCase()}`, responses: { 200: schemas.output } } } }, async (req) =>
    service.get(callContext(req), def, id(req), pathTenant(req)),
  );

  if (def.updatable !== false) {
    app.put(one, { config: { openapi: { tag, summary: `Replace ${def.title.toLowerCase()}`, body: schemas.update, responses: { 200: schemas.output } } } }, async (req) =>
      service.update(callContext(req), def, id(req), req.body, pathTenant(req)),
    );
  }

  const delDoc = def.scope === 'tenant-self' ? ' (409 while it owns resources, unless ?cascade=true)' : '';
  app.delete(one, { config: { openapi: { tag, summary: `Delete ${def.title.toLowerCase()}${delDoc}`, query: deleteQuery, responses: { 204: null } } } }, async (req, reply) => {
    const q = parseQuery(deleteQuery, req.query);
    await service.remove(callContext(req), def, id(req), { cascade: q.cascade === 'true' }, pathTenant(req));
    return reply.status(204).send();
  });

  if (def.versioned) {
    const versionSchema = z.object({ version: z.number(), config: def.fields, created_at: z.string(), actor: z.object({ type: z.string(), id: z.string(), name: z.string() }) });
    app.get(`${one}/versions`, { config: { openapi: { tag, summary: `The last 10 versions of a ${def.title.toLowerCase()}, newest first`, responses: { 200: listOf(versionSchema) } } } }, async (req) =>
      service.versions(callContext(req), def, id(req)),
    );
    app.post(`${one}/rollback`, { config: { openapi: { tag, summary: `Roll back: a new version holding version n's configuration`, body: z.strictObject({ version: z.number().int().min(1) }), responses: { 200: schemas.output } } } }, async (req) =>
      service.rollback(callContext(req), def, id(req), req.body),
    );
  }

  for (const action of Object.keys(def.actions ?? {})) {
    const body = def.actions![action]!.takesSecret && def.secret ? z.strictObject({ [def.secret.field]: z.string() }) : undefined;
    app.post(`${one}/${action}`, { config: { openapi: { tag, summary: `${action[0]!.toUpperCase()}${action.slice(1)} ${def.title.toLowerCase()}`, body, responses: { 200: schemas.output } } } }, async (req) =>
      service.action(callContext(req), def, id(req), action, pathTenant(req), req.body),
    );
  }
}
