import { sql, type Kysely } from 'kysely';

/**
 * The audit chain's head: the newest event's seq and hash, signed, written in the transaction of every append. A
 * chain whose newest events were deleted still links up to its last row; the head is what says rows are missing.
 * One row; the gateway writes it at start-up for a chain that predates it (a migration has no signing key).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .execute();
}
