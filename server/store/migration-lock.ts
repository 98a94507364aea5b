import { sql } from 'kysely';
import type { Db } from './schema';
import { MIGRATIONS, migrateToLatest } from './migrate';

/** Our own session lock around kysely's, so even its bookkeeping tables are created once. */
const MIGRATION_LOCK = 7_351_220_913;

/**
 * Runs pending migrations on one connection of `db`, holding a session advisory lock, so instances starting together
 * on one database migrate one after the other.
 */
export async function migrateUnderLock(db: Db): Promise<void> {
  if (await upToDate(db)) return;
  await db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
    try {
      await migrateToLatest(conn);
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
    }
  });
}

/**
 * Whether exactly the migrations this build knows are recorded as applied: most starts. One small query, where
 * kysely's migrator first looks its tables up in the catalogs (about 0.3 s of an embedded start). Anything else (a
 * new database, a migration to run, one this build does not know) goes to the migrator as before.
 */
async function upToDate(db: Db): Promise<boolean> {
  let applied: string[];
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    applied = rows.map((r) => r.name);
  } catch {
    return false; // no bookkeeping table yet: a new database
  }
  const known = Object.keys(MIGRATIONS);
  return applied.length === known.length && known.every((name) => applied.includes(name));
}
