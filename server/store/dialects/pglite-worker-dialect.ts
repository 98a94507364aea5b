import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type { PGliteThread } from './pglite-thread';

/**
 * kysely on PGlite in a worker thread: PostgreSQL's compiler, adapter and introspector, and a driver whose one
 * connection posts each query to the thread. PGlite has one session, so the connection is lent to one holder at a
 * time (a transaction keeps it from its BEGIN to its COMMIT); others wait their turn in order.
 */
export class PGliteWorkerDialect implements Dialect {
  constructor(private readonly driver: PGliteWorkerDriver) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return this.driver;
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
}

export class PGliteWorkerDriver implements Driver {
  private readonly connection: PGliteWorkerConnection;
  private holder: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  constructor(private readonly thread: PGliteThread) {
    this.connection = new PGliteWorkerConnection(thread);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.holder;
    let release!: () => void;
    this.holder = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.release = release;
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  /** Runs `work` while holding the session, so it never lands inside another holder's transaction. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await this.acquireConnection();
    try {
      return await work();
    } finally {
      await this.releaseConnection();
    }
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await connection.executeQuery(CompiledQuery.raw(`start transaction${level}`));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    await this.thread.close();
  }
}

class PGliteWorkerConnection implements DatabaseConnection {
  constructor(private readonly thread: PGliteThread) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const { rows, affectedRows } = await this.thread.query(query.sql, query.parameters);
    return { rows: rows as R[], ...(affectedRows ? { numAffectedRows: BigInt(affectedRows) } : {}) };
  }

  // PGlite answers a query whole; its rows go out in chunks
  async *streamQuery<R>(query: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    const { rows } = await this.executeQuery<R>(query);
    for (let i = 0; i < rows.length; i += chunkSize) yield { rows: rows.slice(i, i + chunkSize) };
  }
}
