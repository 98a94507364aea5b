import { Kysely, PostgresDialect } from 'kysely';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { copyInto, copySlices } from '../copy-text';
import { listenPostgres } from '../listener';
import { PREPARED_MARK } from '../prepared';
import type { Database } from '../schema';
import type { Append, DatabaseTimeouts, OpenDatabase } from './dialect';

export interface PostgresOptions {
  /** `postgres://…` */
  url: string;
  /** Size of the shared pool. */
  poolSize: number;
  timeouts: DatabaseTimeouts;
}

/** Connections that timed out waiting for an answer: the pool destroys them when released, never reuses them. */
const TIMED_OUT = Symbol('portico.timedOut');

type PgClient = import('pg').PoolClient & { [TIMED_OUT]?: boolean };

/**
 * A pg pool behind kysely, with connect and query timeouts. A client whose query timed out is still waiting for that
 * answer (a hung server), so it is destroyed on release instead of going back to the pool.
 */
export async function postgresKysely(url: string, max: number, timeouts: DatabaseTimeouts) {
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
      const result = (query as (...a: unknown[]) => unknown).apply(this, preparedWhereMarked(args));
      return result instanceof Promise ? result.catch((err) => markTimeouts(client, err)) : result;
    } as typeof client.query;
    return client;
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: { connect, end: () => pool.end() } }) });
  return { db, connect };
}

/** Names of the marked statements' texts (see PREPARED_MARK), one name per text on every connection. */
const preparedNames = new Map<string, string>();
/** Marked texts beyond this many run unprepared: a bound on what each connection keeps. */
const MAX_PREPARED = 64;

/** kysely's `query(text, values)` as pg's named query when the text is marked to be prepared. */
function preparedWhereMarked(args: unknown[]): unknown[] {
  const [text, values] = args;
  if (typeof text !== 'string' || !text.endsWith(PREPARED_MARK)) return args;
  let name = preparedNames.get(text);
  if (!name && preparedNames.size < MAX_PREPARED) preparedNames.set(text, (name = `portico_${preparedNames.size}`));
  return name ? [{ name, text, values }, ...args.slice(2)] : args;
}

/** PostgreSQL through `pg`: a shared pool, a connection of the snapshot's own, LISTEN, and COPY through a pool client. */
export async function openPostgres({ url, poolSize, timeouts }: PostgresOptions): Promise<OpenDatabase> {
  const { db, connect } = await postgresKysely(url, poolSize, timeouts);
  const feed = await postgresKysely(url, 1, timeouts);
  const append: Append = async (table, columns, rows) => {
    const client = await connect();
    let failed: Error | undefined;
    try {
      const copy = client.query(copyFrom(copyInto(table, columns)));
      // COPY streams are not bound by query_timeout: a hung server would hold this write forever
      await pipeline(Readable.from(copySlices(columns, rows)), copy, { signal: AbortSignal.timeout(timeouts.queryMs) });
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
