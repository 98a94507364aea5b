import type { Selectable } from 'kysely';
import type { Executor, HealthSnapshotTable } from './schema';
import { inTimeRange, newestFirst, type TimePage, type TimePageOf, type TimeRange } from './time-list';

/** Service health checks (written by the data plane's health checker), as the admin API reads them. */

export type HealthSnapshot = Selectable<HealthSnapshotTable>;

export interface HealthSnapshotFilter extends TimeRange {
  /** A tenant's own services' checks and the global services' (without it: every check). */
  visible_to?: string;
  service_id?: string;
}

function visibleTo(db: Executor, tenantId: string | undefined) {
  const query = db.selectFrom('health_snapshots').selectAll();
  if (!tenantId) return query;
  return query.where((eb) => eb.or([eb('tenant_id', '=', tenantId), eb('tenant_id', 'is', null)]));
}

// numeric arrives as text
const withNumbers = (r: HealthSnapshot): HealthSnapshot => ({ ...r, latency_ms: Number(r.latency_ms) });

/** One page of checks, newest first. */
export async function listHealthSnapshots(
  db: Executor,
  f: HealthSnapshotFilter,
  page: TimePage,
): Promise<TimePageOf<HealthSnapshot>> {
  let query = visibleTo(db, f.visible_to);
  if (f.service_id) query = query.where('service_id', '=', f.service_id);
  const { rows, next } = await newestFirst(inTimeRange(query, 'checked_at', f), 'checked_at', page);
  return { rows: rows.map(withNumbers), next };
}

/** The latest check of each service, in service id order. */
export async function latestHealthSnapshots(
  db: Executor,
  visibleToTenant: string | undefined,
): Promise<HealthSnapshot[]> {
  // Service ids are unique per owner: the latest check of each (owner, service).
  const query = visibleTo(db, visibleToTenant)
    .distinctOn(['service_id', 'tenant_id'])
    .orderBy('service_id')
    .orderBy('tenant_id')
    .orderBy('checked_at', 'desc');
  return (await query.execute()).map(withNumbers);
}
