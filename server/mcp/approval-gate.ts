import { createHash, randomBytes } from 'node:crypto';
import { policyIndex } from '../data/policy-hook';
import { canonicalJson } from '../lib/canonical-json';
import type { CompiledPolicy } from '../policies/compile';
import { decide, targets, type PolicyRequest } from '../policies/evaluate';
import { shadowStatsOf } from '../policies/shadow-stats';
import type { BodyOf } from '../policies/types';
import { closeApproval, findOpenApproval, openApproval, type McpApproval } from '../store/mcp-approvals';
import type { ToolCall, ToolDecision } from './tool-gate';

/**
 * The tool gate of `approval_gate` policies. The ACTIVE gates covering a call (owner and target as for any policy,
 * `servers` when listed, `tools` globs) are read from the policy index compiled once per snapshot; the first one in
 * priority order decides. A gated call opens a pending approval in the database (every node sees it) and is held;
 * the client retries the same call (same key, server, tool and arguments) and:
 * - while pending, it is held again under the same approval;
 * - once approved, one retry goes through (the approval is used up), within `timeout_secs` of the approval;
 * - once denied, retries are refused as denied until `timeout_secs` after the denial, then a retry asks anew;
 * - a pending (or approved, unused) approval older than `timeout_secs` has expired: the next retry is told so, and
 *   the one after opens a new approval.
 * SHADOW gates are only counted in the shadow statistics.
 */

const ALLOW: ToolDecision = { action: 'allow' };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The call as the policy evaluator reads it: an MCP tool call is a request naming its tool and server. */
function policyRequestOf(call: ToolCall): PolicyRequest {
  return {
    method: 'POST',
    path: `/mcp/${call.server.id}`,
    headers: { 'x-mcp-tool': call.tool, 'x-mcp-server': call.server.id },
    clientIp: '',
    tenantId: call.tenant.id,
    keyId: call.key.id,
    // an MCP call has no route: a route-targeted gate never covers one
    routeId: null,
    routeOwner: null,
    model: null,
    prompt: [],
  };
}

export async function approvalGate(call: ToolCall): Promise<ToolDecision> {
  const index = policyIndex(call.gw.snapshot);
  if (!index.size) return ALLOW;
  const { shadowGates, approvalGates } = index.forTenant(call.tenant.id);
  if (!shadowGates.length && !approvalGates.length) return ALLOW;
  const r = policyRequestOf(call);
  const stats = shadowStatsOf(call.gw);
  for (const p of shadowGates) {
    if (!targets(p, r)) continue;
    const sample = { method: r.method, path: r.path, tenant_id: r.tenantId, api_key_id: r.keyId, route_id: null };
    stats.record(decide(p, r), sample);
  }
  const gate = approvalGates.find((p) => decide(p, r).verdict === 'require_approval');
  return gate ? settle(call, gate) : ALLOW;
}

const held = (a: McpApproval, tool: string): ToolDecision => ({
  action: 'hold',
  approvalId: a.id,
  reason: 'pending',
  expiresAt: new Date(a.expires_at).toISOString(),
  message: `Tool call "${tool}" is held for approval ${a.id} (retry the same call once it is approved)`,
});

/** The open approval's answer to a retry, or undefined when the call needs a new approval. */
async function answerOpen(call: ToolCall, a: McpApproval, now: Date): Promise<ToolDecision | undefined> {
  const db = call.gw.db;
  const live = new Date(a.expires_at).getTime() > now.getTime();
  if (a.status === 'pending' && live) return held(a, call.tool);
  if (a.status === 'approved' && live) return (await closeApproval(db, a.id, 'approved', 'used')) ? ALLOW : undefined;
  if (a.status === 'denied') {
    if (!live) {
      await closeApproval(db, a.id, 'denied', 'denied'); // the denial stands, the call may ask again
      return undefined;
    }
    const message = `Tool call "${call.tool}" was denied (approval ${a.id})`;
    return { action: 'hold', approvalId: a.id, reason: 'denied', message };
  }
  // pending or approved, past its time: said once, then the call may ask again
  if (!(await closeApproval(db, a.id, a.status, 'expired'))) return undefined;
  const message = `Approval ${a.id} for tool call "${call.tool}" expired; retry to ask for a new approval`;
  return { action: 'hold', approvalId: a.id, reason: 'expired', message };
}

async function settle(call: ToolCall, gate: CompiledPolicy): Promise<ToolDecision> {
  const body = gate.body as BodyOf<'approval_gate'>;
  const args = canonicalJson(call.arguments ?? {});
  const argumentsHash = sha256(args);
  const who = [call.tenant.id, call.key.id, call.server.tenant_id ?? '', call.server.id, call.tool, argumentsHash];
  const openKey = sha256(JSON.stringify(who));
  const now = new Date();
  const open = await findOpenApproval(call.gw.db, openKey);
  const answer = open && (await answerOpen(call, open, now));
  if (answer) return answer;
  const created = await openApproval(call.gw.db, {
    id: `apr_${randomBytes(12).toString('hex')}`,
    tenant_id: call.tenant.id,
    api_key_id: call.key.id,
    server_id: call.server.id,
    server_tenant_id: call.server.tenant_id,
    tool: call.tool,
    arguments: args,
    arguments_hash: argumentsHash,
    policy_id: gate.id,
    policy_tenant_id: gate.tenantId,
    approvers: body.approvers,
    timeout_secs: body.timeout_secs,
    open_key: openKey,
    expires_at: new Date(now.getTime() + body.timeout_secs * 1000),
  });
  // another node opened it a moment earlier, and it may have moved on since
  return created.status === 'pending'
    ? held(created, call.tool)
    : ((await answerOpen(call, created, now)) ?? held(created, call.tool));
}
