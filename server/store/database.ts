import { Kysely, PostgresDialect, sql } from 'kysely';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
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
  /** Appends rows to `table` with one COPY, which costs the database about half what an INSERT of them does. */
  append: Append;
  close(): Promise<void>;
}

/** Rows appended in bulk: `columns` name what each row holds, in order. */
export type Append = (table: string, columns: readonly string[], rows: readonly Record<string, unknown>[]) => Promise<void>;

/** One value in COPY's text format: `\N` for null; backslash, tab, newline and carriage return escaped. */
function copyText(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v); // nothing to escape
  const s = typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPED, (c) => COPY_ESCAPES[c]!) : s;
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPED = /[\\\t\n\r]/g;

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** The rows as COPY text: a line per row, tab between values. */
export function copyRows(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < columns.length; i++) out += (i ? '\t' : '') + copyText(row[columns[i]!]);
    out += '\n';
  }
  return out;
}

const copyInto = (table: string, columns: readonly string[]) => `COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`;
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

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
  const append: Append = async (table, columns, rows) => {
    const client = await pool.connect();
    try {
      const copy = client.query(copyFrom(copyInto(table, columns)));
      await pipeline(Readable.from([copyRows(columns, rows)]), copy);
    } finally {
      client.release();
    }
  };
  return { db, dialect: 'postgres', listen: (channel, handlers) => listenPostgres(url, channel, handlers), append, close: () => db.destroy() };
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
  // PGlite reads COPY … FROM '/dev/blob' from the blob given with the query
  const append: Append = async (table, columns, rows) => {
    await client.query(copyInto(table, columns).replace(/STDIN$/, "'/dev/blob'"), [], { blob: new Blob([copyRows(columns, rows)]) });
  };
  return { db, dialect: 'pglite', listen, append, close: () => db.destroy() };
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
