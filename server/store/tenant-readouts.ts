import { sql } from 'kysely';
import type { Executor, Tx } from './schema';
import type { ErrorEvent } from './error-events';
import type { HealthSnapshot } from './health-snapshots';
import type { RequestLog } from './request-logs';
import { inTimeRange, type TimeRange } from './time-list';

/**
 * What the tenant portal reads of one tenant's data-plane records: numbered pages (`?page=`) of its request logs and
 * error events, newest first, and the latest health check of each of its own services. Every query is narrowed to
 * the tenant first, so another tenant's rows can never come back.
 */

/** A numbered page: `size` rows after skipping `(page - 1) * size`. */
export interface NumberedPage {
  page: number;
  size: number;
}

export interface TenantLogFilter extends TimeRange {
  path_prefix?: string;
  status?: number;
  api_key_id?: string;
}

const offsetOf = (p: NumberedPage) => (p.page - 1) * p.size;

/** One page of the tenant's request logs, newest first. */
export async function tenantRequestLogs(
  db: Executor,
  tenantId: string,
  f: TenantLogFilter,
  p: NumberedPage,
): Promise<RequestLog[]> {
  let query = db.selectFrom('request_logs').selectAll().where('tenant_id', '=', tenantId);
  if (f.api_key_id) query = query.where('api_key_id', '=', f.api_key_id);
  if (f.status) query = query.where('status', '=', f.status);
  // taken literally: `%` and `_` match only themselves
  if (f.path_prefix) query = query.where('path', 'like', `${f.path_prefix.replace(/[\\%_]/g, '\\$&')}%`);
  const rows = await inTimeRange(query, 'created_at', f)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(p.size)
    .offset(offsetOf(p))
    .execute();
  return rows.map((r) => ({ ...r, latency_ms: Number(r.latency_ms) })); // numeric arrives as text
}

/** One page of the tenant's error events, newest first. */
export function tenantErrorEvents(
  db: Executor,
  tenantId: string,
  resolved: boolean | undefined,
  p: NumberedPage,
): Promise<ErrorEvent[]> {
  let query = db.selectFrom('error_events').selectAll().where('tenant_id', '=', tenantId);
  if (resolved !== undefined) query = query.where('resolved', '=', resolved);
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(p.size).offset(offsetOf(p)).execute();
}

/**
 * Marks one of the tenant's error events resolved (once: a second call changes nothing). Returns the event as it was
 * before, or undefined when the tenant has no such event (another tenant's id included).
 */
export async function resolveTenantErrorEvent(tx: Tx, tenantId: string, id: string): Promise<ErrorEvent | undefined> {
  const event = await tx
    .selectFrom('error_events')
    .selectAll()
    .where('id', '=', id)
    .where('tenant_id', '=', tenantId)
    .forUpdate()
    .executeTakeFirst();
  if (event && !event.resolved) {
    await tx
      .updateTable('error_events')
      .set({ resolved: true, resolved_at: sql<Date>`now()` })
      .where('id', '=', id)
      .execute();
  }
  return event;
}

/**
 * The latest check of each of the tenant's services named (its own, not the global ones), in service id order. One
 * index probe per service on (service_id, checked_at), rather than a scan of every check the tenant ever had.
 */
export async function tenantLatestHealth(
  db: Executor,
  tenantId: string,
  serviceIds: readonly string[],
): Promise<HealthSnapshot[]> {
  if (!serviceIds.length) return [];
  const ids = JSON.stringify([...serviceIds].sort());
  const { rows } = await sql<HealthSnapshot>`
    select h.* from json_array_elements_text(${ids}::json) as s(id)
    cross join lateral (
      select * from health_snapshots
      where service_id = s.id and tenant_id = ${tenantId}
      order by checked_at desc, id desc limit 1
    ) h
    order by h.service_id`.execute(db);
  return rows.map((r) => ({ ...r, latency_ms: Number(r.latency_ms), checked_at: new Date(r.checked_at) }));
}
