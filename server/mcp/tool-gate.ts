import type { Gateway } from '../gateway';
import { approvalGate } from './approval-gate';
import type { McpServerState, TenantState } from '../resources';
import type { SnapshotApiKey } from '../store/snapshot-keys';

/** One `tools/call` the MCP proxy is about to forward. */
export interface ToolCall {
  gw: Gateway;
  server: McpServerState;
  tenant: TenantState;
  key: SnapshotApiKey;
  /** The upstream session it belongs to, when the client sent `mcp-session-id`. */
  sessionId: string | null;
  tool: string;
  arguments: unknown;
}

/** Why a call is not forwarded: its approval is pending (the default), was denied, or ran out of time. */
export type HoldReason = 'pending' | 'denied' | 'expired';

/**
 * Forward it, or hold it: the client gets a JSON-RPC error naming `approvalId` (its code tells the reason) and may
 * retry once it is approved.
 */
export type ToolDecision =
  | { action: 'allow' }
  | { action: 'hold'; approvalId: string; message?: string; reason?: HoldReason; expiresAt?: string };

export type ToolGate = (call: ToolCall) => ToolDecision | Promise<ToolDecision>;

// the gate of approval_gate policies (./approval-gate.ts) unless a test installs another
let gate: ToolGate = (call) => approvalGate(call);

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
