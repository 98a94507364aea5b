import { z } from 'zod';
import { ApiError, validationError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import type { CallContext } from '../control/caller';
import { changePolicyStatus } from '../control/policy-routes';
import { callContext } from '../control/request-state';
import type { PublicResource, ResourceService } from '../control/resource-service';
import { parseYaml } from '../policies/parse';
import { POLICY_TYPES } from '../policies/types';
import { policy } from '../resources/policy';
import { route } from '../resources/route';
import type { ControlPlaneBreaker } from './control-plane-breaker';
import { findById, listAll, writableFields } from './find';
import { idParams, nodePolicy, policyInput, type PolicyInput } from './schemas';

/** The settings a policy holds as YAML or JSON text, as an object again. */
function configOf(body: string): unknown {
  const parsed = parseYaml(body);
  return parsed.ok ? parsed.value : null;
}

/**
 * Seed 003's policies over Portico's policies (`/v1/admin/policies`): `policy_type` is its `type`, `config` its body
 * (stored as JSON text), `api_id` a `route` target. A policy written here is made ACTIVE, since seed 003 has no
 * statuses: what a node is given, it applies.
 */
export function toNodePolicy(p: PublicResource) {
  return {
    id: p.id,
    name: p.name as string,
    policy_type: p.type as string,
    config: configOf(p.body as string),
    priority: p.priority as number,
    api_id: p.target === 'route' ? (p.target_id as string) : null,
  };
}

/** The tenant of the API a policy names (its policies belong to the route's owner), 400 when there is none. */
async function ownerOfApi(service: ResourceService, ctx: CallContext, apiId: string): Promise<string | null> {
  const found = await findById(service, ctx, route, apiId);
  if (!found || found.path_prefix === null)
    throw validationError([{ path: 'api_id', message: `no API "${apiId}" exists` }]);
  return (found.tenant_id as string | null) ?? null;
}

async function upsertPolicy(gw: Gateway, service: ResourceService, ctx: CallContext, input: PolicyInput) {
  if (!(POLICY_TYPES as readonly string[]).includes(input.policy_type))
    throw validationError([{ path: 'policy_type', message: `must be one of ${POLICY_TYPES.join(', ')}` }]);
  const owner = input.api_id ? await ownerOfApi(service, ctx, input.api_id) : null;
  const fields = {
    name: input.name,
    type: input.policy_type,
    body: JSON.stringify(input.config),
    priority: input.priority,
    target: input.api_id ? 'route' : null,
    target_id: input.api_id ?? null,
  };
  const target = { id: input.id, owner: owner ?? undefined };
  const found = await findById(service, ctx, policy, input.id, owner ?? undefined);
  const existing = found && found.tenant_id === owner ? found : undefined;
  let saved: PublicResource;
  if (existing) saved = await service.update(ctx, policy, target, { ...writableFields(policy, existing), ...fields });
  else saved = await service.create(ctx, policy, { id: input.id, ...(owner ? { tenant_id: owner } : {}), ...fields });
  if (saved.status !== 'ACTIVE') saved = await changePolicyStatus(gw, service, ctx, target, 'ACTIVE', false);
  return { created: !existing, policy: saved };
}

export const nodePolicyRoutes = routePlugin<{ gw: Gateway; service: ResourceService; breaker: ControlPlaneBreaker }>(
  'portico-node-admin-policies',
  [ZOD_SCHEMAS],
  async (app, { gw, service, breaker }) => {
    const tags = ['Policies'];

    app.post(
      '/policies',
      {
        schema: {
          summary: 'Create or update a policy (upsert), made ACTIVE: 201 created, 200 updated',
          tags,
          body: policyInput,
          response: { 200: nodePolicy, 201: nodePolicy },
        },
      },
      async (req, reply) => {
        const out = await breaker.run(() => upsertPolicy(gw, service, callContext(req), req.body));
        return reply.status(out.created ? 201 : 200).send(toNodePolicy(out.policy));
      },
    );

    app.get(
      '/policies',
      { schema: { summary: 'List all policies (a bare array)', tags, response: { 200: nodePolicy.array() } } },
      async (req) => (await breaker.run(() => listAll(service, callContext(req), policy))).map(toNodePolicy),
    );

    app.delete(
      '/policies/:id',
      {
        schema: {
          summary: 'Remove a policy: 204, or 404 when there is none',
          tags,
          params: idParams,
          response: { 204: z.null() },
        },
      },
      async (req, reply) => {
        const ctx = callContext(req);
        await breaker.run(async () => {
          const found = await findById(service, ctx, policy, req.params.id);
          if (!found) throw new ApiError('NOT_FOUND', `Policy "${req.params.id}" not found`);
          await service.remove(ctx, policy, { id: found.id, owner: (found.tenant_id as string | null) ?? undefined });
        });
        return reply.status(204).send();
      },
    );
  },
);
