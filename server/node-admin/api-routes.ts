import { z } from 'zod';
import { ApiError } from '../errors';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import type { CallContext } from '../control/caller';
import { callContext } from '../control/request-state';
import type { PublicResource, ResourceService } from '../control/resource-service';
import { route } from '../resources/route';
import type { ControlPlaneBreaker } from './control-plane-breaker';
import { findById, listAll, writableFields } from './find';
import { api, apiInput, idParams, type Api, type ApiInput } from './schemas';

/**
 * Seed 003's API routes over Portico's HTTP routes (`/v1/admin/routes`): an API is a route with a `path_prefix`;
 * `activated` is its `enabled`, and `name` and `spec_hash` live in its `metadata`. Writes go through the resource
 * service, so they are checked, versioned, audited and propagated like any route write.
 */
export function toApi(r: PublicResource): Api {
  const meta = (r.metadata ?? {}) as Record<string, string>;
  return {
    id: r.id,
    name: meta.name ?? r.id,
    tenant_id: (r.tenant_id as string | null) ?? null,
    path_prefix: r.path_prefix as string,
    backend_url: (r.backend_url as string | null) ?? null,
    methods: r.methods as string[],
    spec_hash: meta.spec_hash ?? null,
    activated: r.enabled as boolean,
  };
}

const isApi = (r: PublicResource | undefined): r is PublicResource => !!r && r.path_prefix !== null;

/** The route body for an API: what the seed sets, over what the route already holds (a PUT replaces). */
function routeBody(input: ApiInput, existing?: PublicResource): Record<string, unknown> {
  const kept = existing ? writableFields(route, existing) : {};
  const metadata: Record<string, string> = { ...((kept.metadata as Record<string, string>) ?? {}), name: input.name };
  if (input.spec_hash == null) delete metadata.spec_hash;
  else metadata.spec_hash = input.spec_hash;
  return {
    ...kept,
    path_prefix: input.path_prefix,
    backend_url: input.backend_url,
    service_id: null,
    methods: input.methods,
    enabled: input.activated,
    metadata,
  };
}

/** Creates the API's route, or updates the one its owner already has under that id. */
async function upsertApi(service: ResourceService, ctx: CallContext, input: ApiInput) {
  const owner = input.tenant_id ?? null;
  const found = await findById(service, ctx, route, input.id, owner ?? undefined);
  const existing = found && found.tenant_id === owner ? found : undefined;
  if (existing && !isApi(existing))
    throw new ApiError('CONFLICT', `Route "${input.id}" is an LLM route, not an API`, [
      { path: 'id', message: 'names an LLM route' },
    ]);
  const target = { id: input.id, owner: owner ?? undefined };
  if (existing) return { created: false, api: await service.update(ctx, route, target, routeBody(input, existing)) };
  const body = { id: input.id, ...(owner ? { tenant_id: owner } : {}), ...routeBody(input) };
  try {
    return { created: true, api: await service.create(ctx, route, body) };
  } catch (err) {
    // another node created it meanwhile: this write is then an update
    if (!(err instanceof ApiError && err.code === 'ALREADY_EXISTS')) throw err;
    const now = await service.get(ctx, route, target);
    return { created: false, api: await service.update(ctx, route, target, routeBody(input, now)) };
  }
}

export const apiRoutes = routePlugin<{ service: ResourceService; breaker: ControlPlaneBreaker }>(
  'portico-node-admin-apis',
  [ZOD_SCHEMAS],
  async (app, { service, breaker }) => {
    const tags = ['APIs'];
    const notAnApi = (id: string) => new ApiError('NOT_FOUND', `API "${id}" not found`);
    /** The API under `id`, or 404 (an LLM route is not an API). */
    const load = async (ctx: CallContext, id: string) => {
      const found = await findById(service, ctx, route, id);
      if (!isApi(found)) throw notAnApi(id);
      return found;
    };

    app.post(
      '/apis',
      {
        schema: {
          summary: 'Create or update an API route (upsert): 201 created, 200 updated',
          tags,
          body: apiInput,
          response: { 200: api, 201: api },
        },
      },
      async (req, reply) => {
        const { created, api: saved } = await breaker.run(() => upsertApi(service, callContext(req), req.body));
        return reply.status(created ? 201 : 200).send(toApi(saved));
      },
    );

    app.get(
      '/apis',
      { schema: { summary: 'List all API routes (a bare array)', tags, response: { 200: api.array() } } },
      async (req) => {
        const routes = await breaker.run(() => listAll(service, callContext(req), route));
        return routes.filter(isApi).map(toApi);
      },
    );

    app.get(
      '/apis/:id',
      { schema: { summary: 'One API route (404 if none)', tags, params: idParams, response: { 200: api } } },
      async (req) => toApi(await breaker.run(() => load(callContext(req), req.params.id))),
    );

    app.delete(
      '/apis/:id',
      {
        schema: {
          // the seed's "idempotent": a repeated delete changes nothing (no write, no audit event), and says so
          summary: 'Remove an API route, safe to repeat: 204, or 404 when there is none (nothing changes)',
          tags,
          params: idParams,
          response: { 204: z.null() },
        },
      },
      async (req, reply) => {
        const ctx = callContext(req);
        await breaker.run(async () => {
          const found = await load(ctx, req.params.id);
          await service.remove(ctx, route, { id: found.id, owner: (found.tenant_id as string | null) ?? undefined });
        });
        return reply.status(204).send();
      },
    );
  },
);
