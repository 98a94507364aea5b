import type { Kysely } from 'kysely';

/**
 * Operators' quota resets (`POST /admin/quotas/:consumer_id/reset`), one mark per API key: the latest reset's time.
 * A node counting a key's quotas back from the request logs at start-up counts only requests admitted after it, so a
 * reset outlives a restart.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('quota_resets')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('reset_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('quota_resets_pkey', ['tenant_id', 'api_key_id'])
    .execute();
}
