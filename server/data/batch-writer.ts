import type { FastifyBaseLogger } from 'fastify';
import { sql, type Insertable } from 'kysely';
import { uuid7 } from '../lib/uuid7';
import type { Database, Db } from '../store/schema';

/** Tables the data plane appends to in batches. */
export type BatchTable = 'usage_records' | 'request_logs' | 'error_events' | 'health_snapshots';

/** A row as the writer takes it: the writer adds the id. */
export type BatchRow<T extends BatchTable> = Omit<Insertable<Database[T]>, 'id'>;

/**
 * Rows written in batches, off the request path: every `intervalMs`, or at once at `maxBatch` rows. A failed write
 * is logged with its row count and dropped, never retried into an unbounded queue.
 */
export class BatchWriter<T extends BatchTable> {
  private pending: BatchRow<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly log: FastifyBaseLogger,
    private readonly table: T,
    private readonly idPrefix: string,
    private readonly intervalMs = 200,
    private readonly maxBatch = 500,
  ) {}

  /** Queues a row, its id added (time-ordered, so inserts append to the primary key's index). Times are best given as ISO strings: a Date slows JSON.stringify several times over. */
  add(row: BatchRow<T>): void {
    (row as { id?: string }).id = `${this.idPrefix}${uuid7()}`;
    this.pending.push(row);
    if (this.pending.length >= this.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs).unref();
  }

  /** Writes what is pending; resolves when it is in the database. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(async () => {
      if (!batch.length) return;
      try {
        const names = new Set<string>();
        for (const row of batch) for (const k in row) names.add(k);
        const columns = sql.join([...names].map((c) => sql.ref(c)));
        // one JSON parameter for the whole batch: far cheaper to build and send than a parameter per value
        await sql`insert into ${sql.table(this.table)} (${columns}) select ${columns} from json_populate_recordset(null::${sql.table(this.table)}, ${JSON.stringify(batch)}::json)`.execute(this.db);
      } catch (err) {
        this.log.error({ err, table: this.table, rows: batch.length }, 'batch write failed; rows lost');
      }
    });
    return this.flushing;
  }
}
