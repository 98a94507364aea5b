import type { Kysely } from 'kysely';

/**
 * Request logs get one row per data-plane request, so each index on them is work on every request. Two indexes
 * serve every read, both scanned newest first and stopping at the page's end: (tenant_id, created_at) for a
 * tenant's logs (and a key's, read within its tenant), (created_at) for the rest (platform-wide lists, a route's
 * logs, the month's quota counts at start-up). They replace the primary key on `id` (ids are UUIDv7s made by the writer, unique by construction;
 * nothing looks a request log up by id) and the (api_key_id, created_at) index.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('request_logs').dropConstraint('request_logs_pkey').execute();
  await db.schema.dropIndex('request_logs_key_time').execute();
  await db.schema.createIndex('request_logs_time').on('request_logs').column('created_at').execute();
}
