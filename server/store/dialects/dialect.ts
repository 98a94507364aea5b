import type { Db } from '../schema';
import type { ListenHandlers, Unlisten } from '../listener';

export type DialectName = 'postgres' | 'pglite';

export interface DatabaseTimeouts {
  /** Opening a connection, or waiting for a free one in the pool. */
  connectMs: number;
  /** One query: its answer must begin within this (`query_timeout`); the server cancels it then (`statement_timeout`). */
  queryMs: number;
}

/**
 * Where embedded PGlite runs (`PORTICO_PGLITE_THREAD`): `worker`, a thread of its own, so that a COPY of request logs
 * or a snapshot read never stalls a proxied request; `main`, the gateway's own thread (as before the worker existed).
 */
export type PGliteThreadMode = 'worker' | 'main';
export const DEFAULT_PGLITE_THREAD: PGliteThreadMode = 'worker';

export const DEFAULT_TIMEOUTS: DatabaseTimeouts = { connectMs: 5000, queryMs: 5000 };

/** Rows appended in bulk: `columns` name what each row holds, in order. */
export type Append = (
  table: string,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
) => Promise<void>;

/** What a dialect opens: the same few capabilities on PostgreSQL and on embedded PGlite. */
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
