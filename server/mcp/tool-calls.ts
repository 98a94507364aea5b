import { ApiError } from '../errors';
import { decryptSecret } from '../lib/secrets';
import type { McpServerState } from '../resources';
import type { DataPlane } from '../data/data-plane';
import type { KeyCaller } from '../data/key-auth';
import { decideToolCall, type HoldReason, type ToolDecision } from './tool-gate';

/** What both proxy transports share: finding the caller's server, and putting its JSON-RPC to the tool gate. */

/** The JSON-RPC error codes of a held tool call (implementation-defined server error range), by reason. */
export const HELD_CODE = -32050;
export const DENIED_CODE = -32051;
export const EXPIRED_CODE = -32052;
const CODES: Record<HoldReason, number> = { pending: HELD_CODE, denied: DENIED_CODE, expired: EXPIRED_CODE };

export interface JsonRpcMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: { name?: unknown; arguments?: unknown };
}

/** The server a key may use: its tenant's own of that id, else a global one; enabled. */
export function serverFor(dp: DataPlane, caller: KeyCaller, id: string): McpServerState {
  const server = dp.gw.snapshot.get('mcp_server', id, caller.tenant.id);
  if (!server || (server.tenant_id !== null && server.tenant_id !== caller.tenant.id))
    throw new ApiError('NOT_FOUND', `MCP server "${id}" not found`);
  if (!server.enabled) throw new ApiError('NOT_FOUND', `MCP server "${id}" is disabled`);
  return server;
}

export function parseBody(body: Buffer | undefined): JsonRpcMessage | JsonRpcMessage[] | undefined {
  if (!body?.length) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError('VALIDATION_FAILED', 'The body is not JSON', [{ path: 'body', message: 'must be JSON-RPC' }]);
  }
}

/** The gate's decisions for the `tools/call` requests of a message or batch, by position (others: allowed). */
export async function decisions(
  dp: DataPlane,
  caller: KeyCaller,
  server: McpServerState,
  sessionId: string | null,
  messages: JsonRpcMessage[],
): Promise<ToolDecision[]> {
  return Promise.all(
    messages.map((m) =>
      m?.method === 'tools/call' && typeof m.params?.name === 'string'
        ? decideToolCall({
            gw: dp.gw,
            server,
            tenant: caller.tenant,
            key: caller.key,
            sessionId,
            tool: m.params.name,
            arguments: m.params.arguments,
          })
        : { action: 'allow' as const },
    ),
  );
}

/** A held call's answer: a JSON-RPC error naming the approval, for each request of the message or batch. */
export function heldAnswer(messages: JsonRpcMessage[], verdicts: ToolDecision[], batch: boolean) {
  const errors = messages.flatMap((m, i) => {
    if (m?.id === undefined) return [];
    const v = verdicts[i]!;
    const held = verdicts.find((d) => d.action === 'hold') as Extract<ToolDecision, { action: 'hold' }>;
    const mine = v.action === 'hold' ? v : held;
    const what = v.action === 'hold' ? `Tool call "${String(m.params?.name)}"` : 'This batch';
    const message = mine.message ?? `${what} is held for approval ${mine.approvalId}`;
    const reason = mine.reason ?? 'pending';
    const data = {
      approval_id: mine.approvalId,
      status: reason,
      ...(mine.expiresAt && { expires_at: mine.expiresAt }),
    };
    return [{ jsonrpc: '2.0', id: m.id, error: { code: CODES[reason], message, data } }];
  });
  return batch ? errors : errors[0];
}

/**
 * The headers of an upstream call: `extra` plus the server's auth header, opened once per server version (its
 * snapshot entry) and kept until the next configuration change, as provider credentials are.
 */
export function upstreamHeaders(dp: DataPlane, server: McpServerState, extra: Record<string, string>) {
  const headers: Record<string, string> = { ...extra };
  const opened = dp.gw.snapshot.memo('mcp-auth-headers', () => new Map<McpServerState, string | null>());
  let value = opened.get(server);
  if (value === undefined) {
    const sealed = dp.gw.snapshot.sealedSecret(server);
    opened.set(server, (value = sealed ? decryptSecret(dp.gw.keys.masterKey, sealed) : null));
  }
  if (value !== null) headers[server.auth_header_name.toLowerCase()] = value;
  return headers;
}
