import { sql, type Selectable } from 'kysely';
import type { ErrorEventTable, Executor, Tx } from './schema';
import { inTimeRange, newestFirst, type TimePage, type TimePageOf, type TimeRange } from './time-list';

/** Data-plane error events (written by the batch writer): listed, and resolved one by one, by the admin API. */

export type ErrorEvent = Selectable<ErrorEventTable>;

export interface ErrorEventFilter extends TimeRange {
  tenant_id?: string;
  route_id?: string;
  resolved?: boolean;
}

/** One page of events, newest first. */
export function listErrorEvents(db: Executor, f: ErrorEventFilter, page: TimePage): Promise<TimePageOf<ErrorEvent>> {
  let query = db.selectFrom('error_events').selectAll();
  if (f.tenant_id) query = query.where('tenant_id', '=', f.tenant_id);
  if (f.route_id) query = query.where('route_id', '=', f.route_id);
  if (f.resolved !== undefined) query = query.where('resolved', '=', f.resolved);
  return newestFirst(inTimeRange(query, 'created_at', f), 'created_at', page);
}

/** One event, locked until the transaction ends (so two resolutions of it are one). */
export function lockErrorEvent(tx: Tx, id: string): Promise<ErrorEvent | undefined> {
  return tx.selectFrom('error_events').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Marks an event resolved now; returns it as it then is. */
export function markErrorEventResolved(tx: Tx, id: string): Promise<ErrorEvent> {
  return tx
    .updateTable('error_events')
    .set({ resolved: true, resolved_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}
