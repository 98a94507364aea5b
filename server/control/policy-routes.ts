import { z } from 'zod';
import { ApiError, validationError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { checkedByHandler, ZOD_SCHEMAS } from '../http/route-schemas';
import { issuesToDetails } from '../http/zod-errors';
import { diffFields } from '../lib/diff';
import { conflictsOf } from '../policies/conflicts';
import type { PolicyInput } from '../policies/compile';
import { dryRunBody, evaluateDryRun, parseDryRunDocument } from '../policies/dry-run';
import { bodyProblemDetails } from '../policies/parse';
import { shadowStatsOf } from '../policies/shadow-stats';
import { POLICY_STATUSES, type PolicyStatus } from '../policies/types';
import { policy } from '../resources/policy';
import { schemasFor } from '../resources/schemas';
import * as store from '../store/resource-store';
import type { Tx } from '../store/schema';
import { lockTextUntilTransactionEnds } from '../store/transaction-lock';
import { BEARER_AUTH } from './authenticate';
import type { CallContext } from './caller';
import { resourceEvent } from './resource-events';
import { loadVisible, type Target } from './resource-lookup';
import { ownerQuery, targetOf } from './resource-routes';
import { toPublic, type ResourceService } from './resource-service';
import { callContext } from './request-state';
import { checkWritesOf } from './write-checks';

/** Where each status may go. Leaving SHADOW clears its shadow statistics; entering ACTIVE checks for conflicts. */
const NEXT: Record<PolicyStatus, PolicyStatus[]> = {
  DRAFT: ['SHADOW', 'ACTIVE', 'DISABLED'],
  SHADOW: ['ACTIVE', 'DISABLED', 'DRAFT'],
  ACTIVE: ['SHADOW', 'DISABLED'],
  DISABLED: ['DRAFT', 'SHADOW', 'ACTIVE'],
};

const statusBody = z.strictObject({ status: z.enum(POLICY_STATUSES) });
const params = z.object({ id: z.string() });
const verdicts = z.record(z.string(), z.number());
const sample = z.object({
  at: z.string(),
  method: z.string(),
  path: z.string(),
  tenant_id: z.string().nullable(),
  api_key_id: z.string().nullable(),
  route_id: z.string().nullable(),
  verdict: z.string(),
  reason: z.string(),
});
const shadowReport = z.object({
  policy_id: z.string(),
  tenant_id: z.string().nullable(),
  status: z.enum(POLICY_STATUSES),
  since: z.string().nullable(),
  evaluated: z.number(),
  verdicts,
  samples: z.array(sample),
});
const decision = z.object({
  policy_id: z.string(),
  tenant_id: z.string().nullable(),
  name: z.string(),
  type: z.string(),
  priority: z.number(),
  verdict: z.string(),
  reason: z.string(),
});
const dryRunResult = z.object({
  valid: z.literal(true),
  outcome: z.enum(['allow', 'deny']),
  decided_by: z.string().nullable(),
  decisions: z.array(decision),
});

const inputOf = (r: store.StoredResource) =>
  ({ ...r.data, id: r.id, tenant_id: r.tenant_id }) as unknown as PolicyInput;

/**
 * Refuses (409 naming both) a policy that is to be ACTIVE with settings contradicting another ACTIVE policy of its
 * owner, type and target. One activation per owner at a time (an advisory lock until the transaction ends), so two
 * contradicting policies cannot both slip through.
 */
async function assertNoConflict(t: Tx, candidate: PolicyInput, path: string): Promise<void> {
  if (candidate.status !== 'ACTIVE') return;
  await lockTextUntilTransactionEnds(t, `policy-activation:${store.ownerOf(candidate.tenant_id)}`);
  const others = await store.listResources(t, policy.kind, { tenants: [candidate.tenant_id], limit: 100_000 });
  const conflicts = conflictsOf(candidate, others.map(inputOf));
  if (!conflicts.length) return;
  const names = conflicts.map((c) => `"${c.with.id}" (${c.reason})`).join('; ');
  throw new ApiError('CONFLICT', `Policy "${candidate.id}" contradicts the ACTIVE policy ${names}`, [
    ...conflicts.map((c) => ({ path, message: `conflicts with "${c.with.id}": ${c.reason}` })),
  ]);
}

// every other way a policy stays ACTIVE with new settings (PUT, rollback, config import, the node admin's upsert)
checkWritesOf(policy.kind, (t, row, data) => assertNoConflict(t, inputOf({ ...row, data }), 'body'));

/**
 * Moves a policy to `to` (for these routes and the node admin API's upsert): the transition must be allowed, and
 * ACTIVE must not contradict another ACTIVE one.
 */
export async function changePolicyStatus(
  gw: Gateway,
  service: ResourceService,
  ctx: CallContext,
  target: Target,
  to: PolicyStatus,
  promote: boolean,
) {
  const stats = shadowStatsOf(gw);
  await service.loadParent(ctx, policy, target, 'write');
  const out = await gw.db.transaction().execute(async (t) => {
    const row = await loadVisible(t, ctx, policy, target, { lock: true });
    const from = row.data.status as PolicyStatus;
    if (promote && from !== 'SHADOW')
      throw new ApiError('CONFLICT', `Policy "${row.id}" is ${from}; only a SHADOW policy is promoted`);
    if (!NEXT[from].includes(to)) {
      const message = `Policy "${row.id}" is ${from}; it can become ${NEXT[from].join(', ')}`;
      throw new ApiError('CONFLICT', message, [{ path: 'status', message: `cannot go from ${from} to ${to}` }]);
    }
    if (to === 'ACTIVE') await assertNoConflict(t, inputOf({ ...row, data: { ...row.data, status: to } }), 'status');
    const data = { ...row.data, status: to };
    const updated = await store.updateResource(t, row, { data });
    const changes = { ...diffFields(row.data, data), ...(promote ? { promoted: { from: null, to: true } } : {}) };
    await gw.audit.append(t, [resourceEvent(ctx, policy, 'POLICY_STATUS_CHANGED', updated, changes)]);
    // what it would have done belongs to the shadow period that just ended (or a fresh one starts)
    if (from === 'SHADOW' || to === 'SHADOW') await stats.clear(t, row.tenant_id, row.id);
    return updated;
  });
  return toPublic(policy, out);
}

/**
 * The policy endpoints beyond CRUD (which the registry derives): `POST /policies/dry-run`, `POST …/{id}/status`,
 * `POST …/{id}/promote` and `GET …/{id}/shadow-stats`. Access and tenant scope are checked as for the policy itself.
 */
export const policyRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-policy-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    const tags = [policy.plural];
    const output = schemasFor(policy).output;
    const stats = shadowStatsOf(gw);

    const changeStatus = (ctx: CallContext, target: Target, to: PolicyStatus, promote: boolean) =>
      changePolicyStatus(gw, service, ctx, target, to, promote);

    app.post(
      '/policies/:id/status',
      {
        schema: {
          summary: 'Change the status of a policy: DRAFT, SHADOW, ACTIVE or DISABLED',
          tags,
          params,
          querystring: ownerQuery,
          body: checkedByHandler(statusBody),
          response: { 200: output },
        },
      },
      async (req) => {
        const ctx = callContext(req);
        const target = targetOf(req);
        await service.loadParent(ctx, policy, target, 'write');
        const parsed = statusBody.safeParse(req.body ?? {});
        if (!parsed.success) throw validationError(issuesToDetails(parsed.error));
        return changeStatus(ctx, target, parsed.data.status, false);
      },
    );

    app.post(
      '/policies/:id/promote',
      {
        schema: {
          summary: 'Promote a SHADOW policy to ACTIVE (409 if it contradicts an ACTIVE one); clears its shadow data',
          tags,
          params,
          querystring: ownerQuery,
          response: { 200: output },
        },
      },
      async (req) => changeStatus(callContext(req), targetOf(req), 'ACTIVE', true),
    );

    app.get(
      '/policies/:id/shadow-stats',
      {
        schema: {
          summary: 'What a SHADOW policy would have done on live traffic (every node): counts and recent samples',
          tags,
          params,
          querystring: ownerQuery,
          response: { 200: shadowReport },
        },
      },
      async (req) => {
        const row = await service.loadParent(callContext(req), policy, targetOf(req), 'read');
        const report = await stats.report(row.tenant_id, row.id);
        return { policy_id: row.id, tenant_id: row.tenant_id, status: row.data.status as PolicyStatus, ...report };
      },
    );

    app.post(
      '/policies/dry-run',
      {
        schema: {
          summary: 'Validate a YAML policy document and evaluate it against a sample request; nothing is stored',
          tags,
          body: checkedByHandler(dryRunBody),
          response: { 200: dryRunResult },
        },
      },
      async (req) => {
        const ctx = callContext(req);
        const raw = (req.body ?? {}) as { request?: { tenant_id?: unknown } };
        await service.scope.checkNamedTenants(ctx, policy, { body: raw.request ?? {} });
        service.scope.authorize(ctx, policy, 'read');
        const parsed = dryRunBody.safeParse(req.body ?? {});
        if (!parsed.success) throw validationError(issuesToDetails(parsed.error));
        // a policy naming no tenant is the caller's tenant's, else the sample request's
        const own = ctx.caller.tenantId ?? parsed.data.request.tenant_id ?? null;
        const named: unknown[] = [];
        const doc = parseDryRunDocument(parsed.data.document, (given) => {
          named.push(given);
          return typeof given === 'string' ? given : given === null ? null : own;
        });
        // a tenant caller dry-runs its own tenant's policies only, like it writes them
        for (const t of named) if (t !== undefined) await service.scope.assertTenant(ctx, t as string | null);
        if (!doc.ok) throw validationError(bodyProblemDetails(doc.problems, 'document'));
        const tenantId =
          parsed.data.request.tenant_id ?? own ?? doc.policies.find((p) => p.tenant_id)?.tenant_id ?? null;
        return { valid: true as const, ...evaluateDryRun(doc.policies, parsed.data.request, tenantId) };
      },
    );
  },
);
