import type { FastifyBaseLogger } from 'fastify';
import type { Insertable } from 'kysely';
import { uuid7 } from '../lib/uuid7';
import type { Append } from '../store/database';
import type { Database } from '../store/schema';

/** Tables the data plane appends to in batches. */
export type BatchTable = 'usage_records' | 'request_logs' | 'error_events' | 'health_snapshots';

/** A row as the writer takes it: the writer adds the id. */
export type BatchRow<T extends BatchTable> = Omit<Insertable<Database[T]>, 'id'>;

/**
 * Rows written in batches with one COPY, off the request path: every `intervalMs`, or at once at `maxBatch` rows.
 * A failed write is logged with its row count and dropped, never retried into an unbounded queue.
 */
export class BatchWriter<T extends BatchTable> {
  private pending: BatchRow<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly append: Append,
    private readonly log: FastifyBaseLogger,
    private readonly table: T,
    private readonly idPrefix: string,
    private readonly intervalMs = 200,
    private readonly maxBatch = 2000,
  ) {}

  /** Queues a row, its id added: time-ordered, so the rows append to the end of the primary key's index. */
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
    const batch = this.pending as Record<string, unknown>[];
    this.pending = [];
    this.flushing = this.flushing.then(async () => {
      if (!batch.length) return;
      try {
        const columns = new Set<string>();
        for (const row of batch) for (const k in row) columns.add(k);
        await this.append(this.table, [...columns], batch);
      } catch (err) {
        this.log.error({ err, table: this.table, rows: batch.length }, 'batch write failed; rows lost');
      }
    });
    return this.flushing;
  }
}
