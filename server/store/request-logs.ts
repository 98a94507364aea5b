import type { Selectable } from 'kysely';
import type { Executor, RequestLogTable } from './schema';
import { inTimeRange, newestFirst, type TimePage, type TimePageOf, type TimeRange } from './time-list';

/**
 * Data-plane request logs (written by the batch writer): read by the admin API. Each write also counts its admitted
 * requests into quota_usage (a trigger: migrations/014-quota-usage.ts), which start-up reads instead of the logs.
 */

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
