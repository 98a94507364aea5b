import { sql, type Selectable } from 'kysely';
import type { Executor, Tx } from './schema';
import type { MetricRollupTable } from './schema-accounts';

/**
 * Per-tenant metric buckets (requests, 4xx and 5xx answers, latency percentiles) rolled up from request logs by the
 * roll-up job, and the job's progress. Percentiles do not add up, so each granularity is computed from the raw rows
 * of its own buckets, never from smaller buckets.
 */

export type MetricRollup = Selectable<MetricRollupTable>;

/** Bucket widths, in seconds, by name. */
export const GRANULARITIES = { '5m': 300, '1h': 3600 } as const;
export type Granularity = keyof typeof GRANULARITIES;

/** Only one roll-up runs at a time across control nodes: a transaction-scoped advisory lock (any fixed number). */
const ROLLUP_LOCK = 7_004_017;

/** Takes the roll-up lock for the transaction; false when another node's roll-up holds it. */
export async function tryRollupLock(tx: Tx): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${ROLLUP_LOCK}) as locked`.execute(
    tx,
  );
  return rows[0]?.locked === true;
}

/** Where the job got to for a granularity (undefined before its first run). */
export async function rollupDoneThrough(db: Executor, granularity: Granularity): Promise<Date | undefined> {
  const row = await db
    .selectFrom('metric_rollup_progress')
    .select('done_through')
    .where('granularity', '=', granularity)
    .executeTakeFirst();
  return row ? new Date(row.done_through) : undefined;
}

/** The oldest request log from `since` on, to start the very first run at (undefined when there are none). */
export async function oldestRequestSince(db: Executor, since: Date): Promise<Date | undefined> {
  const row = await db
    .selectFrom('request_logs')
    .select(sql<Date | null>`min(created_at)`.as('oldest'))
    .where('created_at', '>=', since)
    .executeTakeFirst();
  return row?.oldest ? new Date(row.oldest) : undefined;
}

/**
 * Recomputes every tenant's buckets of one granularity whose start lies in [from, to) from the raw request logs, and
 * replaces what was there (so running it twice over the same range gives the same rows). Returns the rows written.
 */
export async function rollUpBuckets(tx: Tx, granularity: Granularity, from: Date, to: Date): Promise<number> {
  const width = `${GRANULARITIES[granularity]} seconds`;
  const result = await sql`
    insert into metric_rollups (tenant_id, granularity, bucket_start, requests, errors, client_errors,
      latency_p50_ms, latency_p95_ms, latency_p99_ms, rolled_at)
    select tenant_id, ${granularity}, date_bin(${width}::interval, created_at, timestamptz '2000-01-01 00:00:00+00'),
      count(*), count(*) filter (where status >= 500), count(*) filter (where status between 400 and 499),
      percentile_cont(0.5) within group (order by latency_ms),
      percentile_cont(0.95) within group (order by latency_ms),
      percentile_cont(0.99) within group (order by latency_ms),
      now()
    from request_logs
    where tenant_id is not null and created_at >= ${from} and created_at < ${to}
    group by 1, 3
    on conflict (tenant_id, granularity, bucket_start) do update set
      requests = excluded.requests, errors = excluded.errors, client_errors = excluded.client_errors,
      latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
      latency_p99_ms = excluded.latency_p99_ms, rolled_at = excluded.rolled_at`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}

/** Records that every bucket before `through` is rolled up (never moving back). */
export async function markRolledThrough(tx: Tx, granularity: Granularity, through: Date): Promise<void> {
  await tx
    .insertInto('metric_rollup_progress')
    .values({ granularity, done_through: through, updated_at: new Date() })
    .onConflict((oc) =>
      oc.column('granularity').doUpdateSet({
        done_through: sql`greatest(metric_rollup_progress.done_through, excluded.done_through)`,
        updated_at: sql`excluded.updated_at`,
      }),
    )
    .execute();
}

/** Drops buckets that started before `before` (older than any period the portal shows). */
export async function dropRollupsBefore(tx: Tx, before: Date): Promise<void> {
  await tx.deleteFrom('metric_rollups').where('bucket_start', '<', before).execute();
}

/** A tenant's buckets of one granularity starting at or after `since`, oldest first. */
export async function tenantRollups(
  db: Executor,
  tenantId: string,
  granularity: Granularity,
  since: Date,
): Promise<MetricRollup[]> {
  const rows = await db
    .selectFrom('metric_rollups')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('granularity', '=', granularity)
    .where('bucket_start', '>=', since)
    .orderBy('bucket_start')
    .execute();
  // double precision and integers may arrive as text, depending on the driver
  return rows.map((r) => ({
    ...r,
    requests: Number(r.requests),
    errors: Number(r.errors),
    client_errors: Number(r.client_errors),
    latency_p50_ms: Number(r.latency_p50_ms),
    latency_p95_ms: Number(r.latency_p95_ms),
    latency_p99_ms: Number(r.latency_p99_ms),
  }));
}
