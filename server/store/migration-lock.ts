import { sql } from 'kysely';
import type { Db } from './schema';
import { migrateToLatest } from './migrate';

/** Our own session lock around kysely's, so even its bookkeeping tables are created once. */
const MIGRATION_LOCK = 7_351_220_913;

/**
 * Runs pending migrations on one connection of `db`, holding a session advisory lock, so instances starting together
 * on one database migrate one after the other.
 */
export async function migrateUnderLock(db: Db): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
    try {
      await migrateToLatest(conn);
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
    }
  });
}
