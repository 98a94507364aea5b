import { sql, type Kysely } from 'kysely';

/** What the data plane writes in batches: request logs and error events; and the health checks of services. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('request_logs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text')
    .addColumn('api_key_id', 'text')
    .addColumn('route_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('latency_ms', 'double precision', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('client_ip', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('request_logs_tenant_time')
    .on('request_logs')
    .columns(['tenant_id', 'created_at'])
    .execute();
  await db.schema
    .createIndex('request_logs_key_time')
    .on('request_logs')
    .columns(['api_key_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('error_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text')
    .addColumn('route_id', 'text')
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('upstream', 'text')
    .addColumn('resolved', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('error_events_tenant_time')
    .on('error_events')
    .columns(['tenant_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('health_snapshots')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text')
    .addColumn('service_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('latency_ms', 'double precision', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('checked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('health_snapshots_service_time')
    .on('health_snapshots')
    .columns(['service_id', 'checked_at'])
    .execute();
}
