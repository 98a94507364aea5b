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
  tenant_id: string;
  api_key_id: string;
  month: number;
  day: number;
}

/**
 * Each key's requests the gateway admitted since `month` (and since `day`), and since the key's latest quota reset
 * (quota-resets.ts): a request counts when it started after the reset (its log is written when it ends, so a request
 * admitted before the reset and still running at it is not counted). A request the gateway itself refused carries a
 * 4xx error code (every check before admission answers 4xx; what fails after it answers 5xx), so those are left out.
 * Keys with nothing to count are not listed.
 */
export async function admittedRequestsPerKey(db: Executor, month: Date, day: Date): Promise<KeyRequestCount[]> {
  const sinceReset = sql<boolean>`(q.reset_at is null or r.created_at - r.latency_ms * interval '1 millisecond' >= q.reset_at)`;
  const inMonth = sql<number>`count(*) filter (where ${sinceReset})`;
  const rows = await db
    .selectFrom('request_logs as r')
    .leftJoin('quota_resets as q', (join) =>
      join.onRef('q.tenant_id', '=', 'r.tenant_id').onRef('q.api_key_id', '=', 'r.api_key_id'),
    )
    .select([
      'r.tenant_id',
      'r.api_key_id',
      inMonth.as('month'),
      sql<number>`count(*) filter (where r.created_at >= ${day} and ${sinceReset})`.as('day'),
    ])
    .where('r.api_key_id', 'is not', null)
    .where('r.tenant_id', 'is not', null)
    .where('r.created_at', '>=', month)
    .where((eb) => eb.or([eb('r.error_code', 'is', null), eb('r.status', '>=', 500)]))
    .groupBy(['r.tenant_id', 'r.api_key_id'])
    .having(inMonth, '>', 0)
    .execute();
  return rows.map((r) => ({
    tenant_id: r.tenant_id!,
    api_key_id: r.api_key_id!,
    month: Number(r.month),
    day: Number(r.day),
  }));
}
