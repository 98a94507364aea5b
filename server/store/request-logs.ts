import { sql, type Selectable } from 'kysely';
import type { Executor, RequestLogTable } from './schema';
import { inTimeRange, newestFirst, type TimePage, type TimePageOf, type TimeRange } from './time-list';

/** Data-plane request logs (written by the batch writer): read by the admin API, counted back for quotas at start. */

export type RequestLog = Selectable<RequestLogTable>;

export interface RequestLogFilter extends TimeRange {
  tenant_id?: string;
  api_key_id?: string;
  route_id?: string;
  kind?: RequestLog['kind'];
  status?: number;
  /** Paths starting with this text (taken literally: `%` and `_` match only themselves). */
  path_prefix?: string;
}

/** One page of logs, newest first. */
export async function listRequestLogs(
  db: Executor,
  f: RequestLogFilter,
  page: TimePage,
): Promise<TimePageOf<RequestLog>> {
  let query = db.selectFrom('request_logs').selectAll();
  if (f.tenant_id) query = query.where('tenant_id', '=', f.tenant_id);
  if (f.api_key_id) query = query.where('api_key_id', '=', f.api_key_id);
  if (f.route_id) query = query.where('route_id', '=', f.route_id);
  if (f.kind) query = query.where('kind', '=', f.kind);
  if (f.status) query = query.where('status', '=', f.status);
  if (f.path_prefix) query = query.where('path', 'like', `${f.path_prefix.replace(/[\\%_]/g, '\\$&')}%`);
  const { rows, next } = await newestFirst(inTimeRange(query, 'created_at', f), 'created_at', page);
  return { rows: rows.map((r) => ({ ...r, latency_ms: Number(r.latency_ms) })), next }; // numeric arrives as text
}

/** Requests of one key since the start of a month, and since the start of a day within it. */
export interface KeyRequestCount {
  api_key_id: string;
  month: number;
  day: number;
}

/**
 * Each key's requests the gateway admitted since `month` (and since `day`). A request the gateway itself refused
 * carries a 4xx error code (every check before admission answers 4xx; what fails after it answers 5xx), so those are
 * left out.
 */
export async function admittedRequestsPerKey(db: Executor, month: Date, day: Date): Promise<KeyRequestCount[]> {
  const rows = await db
    .selectFrom('request_logs')
    .select([
      'api_key_id',
      sql<number>`count(*)`.as('month'),
      sql<number>`count(*) filter (where created_at >= ${day})`.as('day'),
    ])
    .where('api_key_id', 'is not', null)
    .where('created_at', '>=', month)
    .where((eb) => eb.or([eb('error_code', 'is', null), eb('status', '>=', 500)]))
    .groupBy('api_key_id')
    .execute();
  return rows.map((r) => ({ api_key_id: r.api_key_id!, month: Number(r.month), day: Number(r.day) }));
}
