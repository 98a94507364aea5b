import type { RawBuilder } from 'kysely';
import type { AuditEvent } from '../audit/chain';

/**
 * Work that follows every change and rides on the statement that appends its audit events, as one more CTE of it
 * (the change notification, the webhook outbox): it commits or rolls back with the change, and costs no round trip
 * of its own, none of them while the chain is locked. Registered with AuditLog.onAppend.
 */
export interface AppendPart {
  /**
   * The part's statement for `events`, or undefined when it has nothing to do. It must return a row per thing it
   * did: a SELECT (which runs only because the append counts its rows, so a `pg_notify` in it is sent) or a
   * data-modifying statement with `returning`. `when` is the condition the append's own writes hang on (the head
   * still where this process predicted it): the part's WHERE must require it, so that nothing is done when the
   * events are not written.
   */
  statement(events: readonly AuditEvent[], when: RawBuilder<boolean>): RawBuilder<unknown> | undefined;
  /**
   * Resource kinds the part's statement reads. A statement's parts do not see each other's writes, so a write of one
   * of these kinds cannot ride on the append beside it (see AuditLog.appendWith): it is made before, in a transaction.
   */
  reads?: readonly string[];
  /**
   * What the change needs to still hold, read with the rows it reads locked and never waited for (`skip locked`): a
   * row unchanged since the caller read it, the owner tenant still there. The append writes nothing unless every
   * part's precondition holds (see appendIfHeadIs). For the changes riding on AuditLog.appendWith only.
   */
  precondition?: RawBuilder<boolean>;
  /**
   * The row the change writes (`kind/owner/id`). Two changes of one row never share a statement: PostgreSQL would
   * make only one of them, with both their events appended.
   */
  row?: string;
  /** Called after the statement ran (in the transaction, before it commits) with the rows the part returned. */
  afterAppend?(rows: number): void;
}
