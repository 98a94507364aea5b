import type { Gateway } from '../gateway';
import type { ApiKeyState, McpServerState, TenantState } from '../resources';

/** One `tools/call` the MCP proxy is about to forward. */
export interface ToolCall {
  gw: Gateway;
  server: McpServerState;
  tenant: TenantState;
  key: ApiKeyState;
  /** The upstream session it belongs to, when the client sent `mcp-session-id`. */
  sessionId: string | null;
  tool: string;
  arguments: unknown;
}

/** Forward it, or hold it: the client gets a JSON-RPC error naming `approvalId` and may retry once it is approved. */
export type ToolDecision = { action: 'allow' } | { action: 'hold'; approvalId: string; message?: string };

export type ToolGate = (call: ToolCall) => ToolDecision | Promise<ToolDecision>;

/** Until approval gates exist (policies, another branch), every tool call is forwarded. */
const allowAll: ToolGate = () => ({ action: 'allow' });

let gate: ToolGate = allowAll;

/**
 * The hook `approval_gate` policies plug into: the proxy asks it about every `tools/call` before forwarding it.
 * `installToolGate(gate)` replaces it (and returns the previous one), once per process.
 */
export function installToolGate(next: ToolGate): ToolGate {
  const previous = gate;
  gate = next;
  return previous;
}

/** What the installed gate decides for one call. */
export const decideToolCall = (call: ToolCall): Promise<ToolDecision> => Promise.resolve(gate(call));
