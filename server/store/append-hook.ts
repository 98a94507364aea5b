import type { AuditEvent } from '../audit/chain';
import type { Tx } from './schema';

/**
 * Runs inside the transaction that appends audit events, after they are written (change notifications, the webhook
 * outbox): it commits or rolls back with the change they describe.
 */
export type AppendHook = (tx: Tx, events: AuditEvent[]) => Promise<void>;
