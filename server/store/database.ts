import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Database, Db } from './schema';
import { migrateToLatest } from './migrate';
import { listenPostgres, type ListenHandlers, type Unlisten } from './listener';

export type DialectName = 'postgres' | 'pglite';

export interface OpenDatabaseOptions {
  /** `postgres://…` for PostgreSQL through `pg`; otherwise embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory, or `memory://`. */
  dataDir?: string;
  /** Size of the pg pool. */
  poolSize?: number;
}

export interface OpenDatabase {
  db: Db;
  dialect: DialectName;
  /** Subscribes to NOTIFY messages on `channel` (sent with pg_notify; delivered when their transaction commits). */
  listen(channel: string, handlers: ListenHandlers): Promise<Unlisten>;
  close(): Promise<void>;
}

const MIGRATION_LOCK = 7_351_220_913; // our own session lock around kysely's, so even its bookkeeping tables are created once

/** Opens the database, runs pending migrations and returns a ready kysely instance. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenDatabase> {
  const opened = options.databaseUrl ? await openPostgres(options.databaseUrl, options.poolSize ?? 10) : await openPGlite(options.dataDir ?? 'memory://');
  try {
    await opened.db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
      try {
        await migrateToLatest(conn);
      } finally {
        await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
      }
    });
  } catch (err) {
    await opened.close();
    throw err;
  }
  return opened;
}

async function openPostgres(url: string, poolSize: number): Promise<OpenDatabase> {
  const pg = await import('pg');
  // int8 (count(*), bigint columns) as numbers: our counters stay far below 2^53.
  pg.types.setTypeParser(20, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  pool.on('error', () => {}); // an idle client's lost connection: the pool replaces it; queries report their own errors
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', listen: (channel, handlers) => listenPostgres(url, channel, handlers), close: () => db.destroy() };
}

async function openPGlite(dataDir: string): Promise<OpenDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  if (dataDir !== 'memory://') (await import('node:fs')).mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir === 'memory://' ? undefined : dataDir);
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  const listen = async (channel: string, handlers: ListenHandlers): Promise<Unlisten> => {
    const stop = await client.listen(channel, handlers.onMessage);
    return async () => {
      if (!client.closed) await stop();
    };
  };
  return { db, dialect: 'pglite', listen, close: () => db.destroy() };
}

/** True when the database answers a trivial query. */
export async function isDatabaseReady(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
