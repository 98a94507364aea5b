import { sql, type Kysely } from 'kysely';

/**
 * What SHADOW policies would have done on live traffic, for the whole cluster (issue 15): each node counts in memory
 * and adds its counts here in batches, so `GET /v1/admin/policies/{id}/shadow-stats` answers every node's totals and
 * they survive restarts. Counts per verdict, and the newest samples (each node trims a policy's to the kept number).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('policy_shadow_counts')
    .addColumn('policy_owner', 'text', (c) => c.notNull())
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('verdict', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('since', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('policy_shadow_counts_pkey', ['policy_owner', 'policy_id', 'verdict'])
    .execute();

  await db.schema
    .createTable('policy_shadow_samples')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('policy_owner', 'text', (c) => c.notNull())
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('sample', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('policy_shadow_samples_newest')
    .on('policy_shadow_samples')
    .columns(['policy_owner', 'policy_id', 'at desc'])
    .execute();
}
