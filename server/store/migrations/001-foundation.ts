import { sql, type Kysely } from 'kysely';

/** Resources, the audit chain and settings: the foundation's tables. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('resources')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('secret', 'text')
    .addColumn('lookup', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('resources_pk', ['kind', 'id'])
    .execute();
  await db.schema.createIndex('resources_tenant').on('resources').columns(['tenant_id', 'kind']).execute();
  await db.schema
    .createIndex('resources_lookup')
    .on('resources')
    .columns(['kind', 'lookup'])
    .unique()
    .where(sql.ref('lookup'), 'is not', null)
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('actor', 'jsonb', (c) => c.notNull())
    .addColumn('tenant_id', 'text')
    .addColumn('resource_kind', 'text')
    .addColumn('resource_id', 'text')
    .addColumn('changes', 'jsonb')
    .addColumn('trace_id', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_events_tenant').on('audit_events').columns(['tenant_id', 'seq']).execute();
  await db.schema.createIndex('audit_events_type').on('audit_events').columns(['type', 'seq']).execute();
  await db.schema.createIndex('audit_events_created').on('audit_events').column('created_at').execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['settings', 'audit_events', 'resources']) await db.schema.dropTable(table).execute();
}
