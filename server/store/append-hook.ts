import type { AuditEvent } from '../audit/chain';
import type { Tx } from './schema';

/**
 * Runs inside the transaction that appends audit events, after they are written (the webhook outbox): it commits or
 * rolls back with the change they describe.
 */
export type AppendHook = (tx: Tx, events: AuditEvent[]) => Promise<void>;

/** What an event will say about its resource, before it has a place in the chain. */
export interface ChangedEntry {
  resource: { kind: string; id: string } | null;
}

/**
 * A hook that needs only what the events will say, not their place in the chain: it runs in the same transaction but
 * before the chain is locked, so the lock is held for no round trip of its own (a NOTIFY, say, is delivered at commit
 * wherever in the transaction it was sent).
 */
export interface UnlinkedHook {
  beforeLink(tx: Tx, entries: readonly ChangedEntry[]): Promise<void>;
}
