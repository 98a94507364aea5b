import { sql } from 'kysely';
import { within } from '../lib/within';
import { DEFAULT_TIMEOUTS, type DatabaseTimeouts, type OpenDatabase, type PGliteThreadMode } from './dialects/dialect';
import { openPGlite } from './dialects/pglite';
import { openPostgres, postgresKysely } from './dialects/postgres';
import { migrateUnderLock } from './migration-lock';
import type { Db } from './schema';

export type { Append, DatabaseTimeouts, DialectName, OpenDatabase, PGliteThreadMode } from './dialects/dialect';
export { DEFAULT_PGLITE_THREAD, DEFAULT_TIMEOUTS } from './dialects/dialect';
export { copyRows } from './copy-text';

export interface OpenDatabaseOptions {
  /** `postgres://…` for PostgreSQL through `pg`; otherwise embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory, or `memory://`. */
  dataDir?: string;
  /** A migrated PGlite image a new database starts from (a test/tooling aid; see PGliteOptions.image). */
  pgliteImage?: Blob | string;
  /** Where PGlite runs (`PORTICO_PGLITE_THREAD`): its own worker thread, or the gateway's thread. */
  pgliteThread?: PGliteThreadMode;
  /** Size of the pg pool. */
  poolSize?: number;
  /** Bounds on waiting for PostgreSQL, so a hung server gives errors rather than requests that never end. */
  timeouts?: DatabaseTimeouts;
}

/**
 * Opens the database of the dialect `options` ask for, runs pending migrations and returns it ready. Migrations run
 * from a PGlite image too: they find nothing pending there unless the image predates one.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenDatabase> {
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const url = options.databaseUrl;
  const opened = url
    ? await openPostgres({ url, poolSize: options.poolSize ?? 10, timeouts })
    : await openPGlite({
        dataDir: options.dataDir ?? 'memory://',
        image: options.pgliteImage,
        thread: options.pgliteThread,
      });
  // migrations may wait on another instance's lock, and build indexes: no query timeout for them
  const migrator = url ? await postgresKysely(url, 1, { ...timeouts, queryMs: 0 }) : undefined;
  try {
    await migrateUnderLock(migrator?.db ?? opened.db);
  } catch (err) {
    await opened.close();
    throw err;
  } finally {
    await migrator?.db.destroy();
  }
  return opened;
}

/** True when the database answers a trivial query within `ms` (a probe must answer even when the server hangs). */
export async function isDatabaseReady(db: Db, ms = 2000): Promise<boolean> {
  const answered = sql`select 1`.execute(db).then(
    () => true,
    () => false,
  );
  return (await within(answered, ms)) === true;
}
