import type { SelectQueryBuilder } from 'kysely';
import { upperBound } from '../lib/iso-date';

/**
 * Newest-first lists of time-stamped records (request logs, usage, error events, health snapshots): a time range
 * filter, and keyset pages on (time, id) that stay stable while new rows arrive.
 */

/** `from`/`to` as the query carries them (ISO-8601 text); a bare `to` date includes that whole day. */
export interface TimeRange {
  from?: string;
  to?: string;
}

/** A row's place in a newest-first list: its time and id. */
export interface TimePosition {
  at: Date;
  id: string;
}

/** One page to read: up to `limit` rows after `after` (from the start without it). */
export interface TimePage {
  limit: number;
  after?: TimePosition;
}

/** A page of rows, and the position of its last row when more follow. */
export interface TimePageOf<R> {
  rows: R[];
  next: TimePosition | null;
}

// The column is a name the caller picks among its table's timestamps: kysely cannot type a column chosen at run time.
type AnyQuery<R> = SelectQueryBuilder<any, any, R>;

/** Narrows `query` to rows whose `column` lies in `range`. */
export function inTimeRange<Q>(query: Q, column: string, range: TimeRange): Q {
  let q = query as AnyQuery<unknown>;
  if (range.from) q = q.where(column, '>=', new Date(range.from));
  if (range.to) q = q.where(column, ...upperBound(range.to));
  return q as Q;
}

/** One page of `query`, newest first on (`column`, id). */
export async function newestFirst<DB, TB extends keyof DB, R extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, R>,
  column: string,
  page: TimePage,
): Promise<TimePageOf<R>> {
  let q = query as unknown as AnyQuery<R>;
  const after = page.after;
  if (after) {
    q = q.where((eb) =>
      eb.or([eb(column, '<', after.at), eb.and([eb(column, '=', after.at), eb('id', '<', after.id)])]),
    );
  }
  const rows = await q
    .orderBy(column, 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
  const kept = rows.slice(0, page.limit);
  const last = kept[kept.length - 1] as (R & Record<string, unknown>) | undefined;
  const next = rows.length > page.limit && last ? { at: new Date(last[column] as string), id: last.id } : null;
  return { rows: kept, next };
}
