import { z } from 'zod';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import {
  decideApproval,
  findApproval,
  listApprovals,
  lockApproval,
  shownStatus,
  type McpApproval,
} from '../store/mcp-approvals';
import { BEARER_AUTH } from '../control/authenticate';
import { actorOf, type CallContext } from '../control/caller';
import { allows } from '../control/permissions';
import type { ResourceService } from '../control/resource-service';
import { callContext } from '../control/request-state';
import { iso, pageQuery, timeCursor, timePage } from '../control/time-page';

const STATUSES = ['pending', 'approved', 'denied', 'used', 'expired'] as const;

const actorSchema = z.object({ type: z.string(), id: z.string(), name: z.string() });
const approvalSchema = z.object({
  id: z.string(),
  object: z.literal('mcp_approval'),
  tenant_id: z.string(),
  api_key_id: z.string(),
  server_id: z.string(),
  server_tenant_id: z.string().nullable(),
  tool: z.string(),
  arguments: z.unknown(),
  policy_id: z.string(),
  policy_tenant_id: z.string().nullable(),
  approvers: z.array(z.string()),
  status: z.enum(STATUSES),
  expires_at: z.string(),
  decided_at: z.string().nullable(),
  decided_by: actorSchema.nullable(),
  used_at: z.string().nullable(),
  created_at: z.string(),
});
const listSchema = z.object({
  object: z.literal('list'),
  data: z.array(approvalSchema),
  next_cursor: z.string().nullable(),
});
const listQuery = z.strictObject({
  tenant_id: z.string().max(63).optional(),
  status: z.enum(STATUSES).optional(),
  server_id: z.string().max(100).optional(),
  ...pageQuery,
});
const params = z.object({ id: z.string().max(100) });

const shown = (a: McpApproval, now = new Date()) => ({
  id: a.id,
  object: 'mcp_approval' as const,
  tenant_id: a.tenant_id,
  api_key_id: a.api_key_id,
  server_id: a.server_id,
  server_tenant_id: a.server_tenant_id,
  tool: a.tool,
  arguments: JSON.parse(a.arguments) as unknown,
  policy_id: a.policy_id,
  policy_tenant_id: a.policy_tenant_id,
  approvers: a.approvers,
  status: shownStatus(a, now),
  expires_at: iso(a.expires_at),
  decided_at: a.decided_at ? iso(a.decided_at) : null,
  decided_by: a.decided_by,
  used_at: a.used_at ? iso(a.used_at) : null,
  created_at: iso(a.created_at),
});

/** Another tenant's approval is as good as absent: a 404 that does not reveal it. */
function visible(ctx: CallContext, id: string, a: McpApproval | undefined): McpApproval {
  if (!a || (ctx.caller.tenantId !== null && a.tenant_id !== ctx.caller.tenantId))
    throw new ApiError('NOT_FOUND', `MCP approval "${id}" not found`);
  return a;
}

/** Approving needs write access to `mcp`, and when the gate names `approvers`, the caller's role, id or name among them. */
function assertMayDecide(ctx: CallContext, a: McpApproval): void {
  const { role, id, name } = ctx.caller;
  if (!allows(role, 'mcp', 'write')) throw new ApiError('FORBIDDEN', `The role "${role}" may not decide MCP approvals`);
  if (a.approvers.length && ![role, id, name].some((who) => a.approvers.includes(who)))
    throw new ApiError(
      'FORBIDDEN',
      `Only ${a.approvers.join(', ')} may decide this approval (policy "${a.policy_id}")`,
    );
}

/**
 * MCP tool-call approvals (opened by the MCP proxy's approval gate, ./approval-gate.ts): `GET /mcp-approvals`
 * (newest first, `?status=`), `GET …/{id}`, `POST …/{id}/approve` and `POST …/{id}/deny`. Read under the `mcp` area;
 * a tenant caller sees and decides its own tenant's only. Each decision is an audit event naming its actor.
 */
export const mcpApprovalRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-mcp-approval-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    const tags = ['MCP approvals'];

    app.get(
      '/mcp-approvals',
      {
        schema: {
          summary: 'MCP tool calls held for approval, newest first',
          tags,
          querystring: listQuery,
          response: { 200: listSchema },
        },
      },
      async (req) => {
        const q = req.query;
        const tenant = await service.scope.readScope(callContext(req), 'mcp', q.tenant_id, 'read MCP approvals');
        const now = new Date();
        const { rows, next } = await listApprovals(gw.db, { ...q, tenant_id: tenant }, timePage(q), now);
        return { object: 'list' as const, data: rows.map((a) => shown(a, now)), next_cursor: timeCursor(next) };
      },
    );

    app.get(
      '/mcp-approvals/:id',
      { schema: { summary: 'One MCP approval', tags, params, response: { 200: approvalSchema } } },
      async (req) => {
        const ctx = callContext(req);
        const a = visible(ctx, req.params.id, await findApproval(gw.db, req.params.id));
        await service.scope.readScope(ctx, 'mcp', a.tenant_id, 'read MCP approvals');
        return shown(a);
      },
    );

    for (const decision of ['approve', 'deny'] as const) {
      const status = decision === 'approve' ? 'approved' : 'denied';
      app.post(
        `/mcp-approvals/:id/${decision}`,
        {
          schema: {
            summary: decision === 'approve' ? 'Approve a held MCP tool call (one use)' : 'Deny a held MCP tool call',
            tags,
            params,
            response: { 200: approvalSchema },
          },
        },
        async (req) => {
          const ctx = callContext(req);
          const id = req.params.id;
          return gw.db.transaction().execute(async (tx) => {
            const a = visible(ctx, id, await lockApproval(tx, id));
            assertMayDecide(ctx, a);
            const now = new Date();
            const current = shownStatus(a, now);
            if (current !== 'pending')
              throw new ApiError('CONFLICT', `MCP approval "${id}" is ${current}: only a pending one can be decided`);
            // the approved call (or the denial) holds for the gate's timeout from now
            const expires = new Date(now.getTime() + a.timeout_secs * 1000);
            const decided = await decideApproval(tx, id, status, actorOf(ctx.caller), expires);
            const changes = {
              status: { from: 'pending', to: status },
              server_id: a.server_id,
              tool: a.tool,
              api_key_id: a.api_key_id,
              policy_id: a.policy_id,
            };
            const event = {
              type: decision === 'approve' ? 'MCP_APPROVAL_APPROVED' : 'MCP_APPROVAL_DENIED',
              actor: actorOf(ctx.caller),
              tenant_id: a.tenant_id,
              resource: { kind: 'mcp_approval', id },
              changes,
              trace_id: ctx.traceId ?? null,
            };
            await gw.audit.append(tx, [event]);
            return shown(decided, now);
          });
        },
      );
    }
  },
);
