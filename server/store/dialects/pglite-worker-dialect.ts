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
 * time (a transaction keeps it from its BEGIN to its COMMIT); others wait their turn (see SessionLock).
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

/**
 * The one PGlite session, lent to one holder at a time in the order asked, except that the snapshot feed's reads go
 * before waiting admin work: a revocation must reach the data plane while writers queue for the session.
 */
export class SessionLock {
  private held = false;
  private readonly urgent: (() => void)[] = [];
  private readonly normal: (() => void)[] = [];

  async acquire(urgent: boolean): Promise<void> {
    if (!this.held) {
      this.held = true;
      return;
    }
    await new Promise<void>((resolve) => (urgent ? this.urgent : this.normal).push(resolve));
  }

  release(): void {
    const next = this.urgent.shift() ?? this.normal.shift();
    if (next) next();
    else this.held = false;
  }
}

export class PGliteWorkerDriver implements Driver {
  private readonly connection: PGliteWorkerConnection;

  /** `urgent`: this driver's holders go before the others' waiting ones; `owner`: its destroy closes the thread. */
  constructor(
    private readonly thread: PGliteThread,
    private readonly lock: SessionLock,
    private readonly options: { urgent: boolean; owner: boolean },
  ) {
    this.connection = new PGliteWorkerConnection(thread);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.acquire(this.options.urgent);
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    this.lock.release();
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
    if (this.options.owner) await this.thread.close();
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
