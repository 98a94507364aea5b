import type { Kysely } from 'kysely';

/**
 * A request that named a registered output schema records how its answer fared: `passed` or `failed` (null for every
 * other request). A nullable column without a default: adding it rewrites nothing.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('request_logs').addColumn('schema_validation', 'text').execute();
}
