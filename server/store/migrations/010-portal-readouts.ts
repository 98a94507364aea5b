import { sql, type Kysely } from 'kysely';

/**
 * The tenant portal's read-outs (issue 17 item 3): per-tenant metric buckets kept by a roll-up job on control nodes
 * (so a metrics read never scans request logs), the job's progress (it resumes after a restart), and the data-plane
 * nodes' reports of themselves (which configuration version each holds, and when it last said so).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('metric_rollups')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('granularity', 'text', (c) => c.notNull())
    .addColumn('bucket_start', 'timestamptz', (c) => c.notNull())
    .addColumn('requests', 'integer', (c) => c.notNull())
    .addColumn('errors', 'integer', (c) => c.notNull())
    .addColumn('client_errors', 'integer', (c) => c.notNull())
    .addColumn('latency_p50_ms', 'double precision', (c) => c.notNull())
    .addColumn('latency_p95_ms', 'double precision', (c) => c.notNull())
    .addColumn('latency_p99_ms', 'double precision', (c) => c.notNull())
    .addColumn('rolled_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('metric_rollups_pkey', ['tenant_id', 'granularity', 'bucket_start'])
    .execute();

  await db.schema
    .createTable('metric_rollup_progress')
    .addColumn('granularity', 'text', (c) => c.primaryKey())
    .addColumn('done_through', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('gateway_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('config_seq', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('reported_at', 'timestamptz', (c) => c.notNull())
    .execute();
}
