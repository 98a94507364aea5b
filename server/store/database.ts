import { Kysely, PostgresDialect, sql } from 'kysely';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { within } from '../lib/within';
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
  /** Bounds on waiting for PostgreSQL, so a hung server gives errors rather than requests that never end. */
  timeouts?: DatabaseTimeouts;
}

export interface DatabaseTimeouts {
  /** Opening a connection, or waiting for a free one in the pool. */
  connectMs: number;
  /** One query: its answer must begin within this (`query_timeout`); the server cancels it then (`statement_timeout`). */
  queryMs: number;
}

export const DEFAULT_TIMEOUTS: DatabaseTimeouts = { connectMs: 5000, queryMs: 5000 };

export interface OpenDatabase {
  db: Db;
  /**
   * A connection of its own for reading configuration into the snapshot, so change notifications are not queued
   * behind admin transactions waiting for the shared pool (with PGlite, the same single connection as `db`).
   */
  feedDb: Db;
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
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const url = options.databaseUrl;
  const opened = url ? await openPostgres(url, options.poolSize ?? 10, timeouts) : await openPGlite(options.dataDir ?? 'memory://');
  // migrations may wait on another instance's lock, and build indexes: no query timeout for them
  const migrator = url ? await postgresKysely(url, 1, { ...timeouts, queryMs: 0 }) : undefined;
  try {
    await (migrator?.db ?? opened.db).connection().execute(async (conn) => {
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
  } finally {
    await migrator?.db.destroy();
  }
  return opened;
}

/** Connections that timed out waiting for an answer: the pool destroys them when released, never reuses them. */
const TIMED_OUT = Symbol('portico.timedOut');

type PgClient = import('pg').PoolClient & { [TIMED_OUT]?: boolean };

/**
 * A pg pool behind kysely, with connect and query timeouts. A client whose query timed out is still waiting for that
 * answer (a hung server), so it is destroyed on release instead of going back to the pool.
 */
async function postgresKysely(url: string, max: number, timeouts: DatabaseTimeouts) {
  const pg = await import('pg');
  // int8 (count(*), bigint columns) as numbers: our counters stay far below 2^53.
  pg.types.setTypeParser(20, (v) => Number(v));
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: timeouts.connectMs,
    ...(timeouts.queryMs ? { query_timeout: timeouts.queryMs, statement_timeout: timeouts.queryMs } : {}),
    keepAlive: true,
  });
  pool.on('error', () => {}); // an idle client's lost connection: the pool replaces it; queries report their own errors
  // a connection lost while checked out but between queries: its next query (or release) reports it
  pool.on('connect', (client) => client.on('error', () => {}));
  const markTimeouts = (client: PgClient, err: unknown) => {
    if (err instanceof Error && err.message === 'Query read timeout') client[TIMED_OUT] = true;
    throw err;
  };
  const connect = async (): Promise<PgClient> => {
    const client: PgClient = await pool.connect();
    const release = client.release;
    const query = client.query;
    // kysely releases without an error; pass one when the connection is unusable, so pg-pool destroys it
    client.release = (err?: Error | boolean) => {
      client.query = query;
      client.release = release;
      return release.call(client, err || (client[TIMED_OUT] ? true : undefined));
    };
    client.query = function (this: PgClient, ...args: unknown[]) {
      const result = (query as (...a: unknown[]) => unknown).apply(this, args);
      return result instanceof Promise ? result.catch((err) => markTimeouts(client, err)) : result;
    } as typeof client.query;
    return client;
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: { connect, end: () => pool.end() } }) });
  return { db, connect };
}

async function openPostgres(url: string, poolSize: number, timeouts: DatabaseTimeouts): Promise<OpenDatabase> {
  const { db, connect } = await postgresKysely(url, poolSize, timeouts);
  const feed = await postgresKysely(url, 1, timeouts);
  const append: Append = async (table, columns, rows) => {
    const client = await connect();
    let failed: Error | undefined;
    try {
      const copy = client.query(copyFrom(copyInto(table, columns)));
      // COPY streams are not bound by query_timeout: a hung server would hold this write forever
      await pipeline(Readable.from([copyRows(columns, rows)]), copy, { signal: AbortSignal.timeout(timeouts.queryMs) });
    } catch (err) {
      if ((err as Error).name === 'AbortError') failed = new Error('Query read timeout', { cause: err });
      throw failed ?? err;
    } finally {
      client.release(failed);
    }
  };
  const close = async () => {
    await Promise.all([db.destroy(), feed.db.destroy()]);
  };
  const listen: OpenDatabase['listen'] = (channel, handlers) => listenPostgres(url, channel, handlers, timeouts);
  return { db, feedDb: feed.db, dialect: 'postgres', listen, append, close };
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
  return { db, feedDb: db, dialect: 'pglite', listen, append, close: () => db.destroy() };
}

/** True when the database answers a trivial query within `ms` (a probe must answer even when the server hangs). */
export async function isDatabaseReady(db: Db, ms = 2000): Promise<boolean> {
  const answered = sql`select 1`.execute(db).then(
    () => true,
    () => false,
  );
  return (await within(answered, ms)) === true;
}
