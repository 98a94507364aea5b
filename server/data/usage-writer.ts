import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Insertable } from 'kysely';
import type { Db, UsageRecordTable } from '../store/schema';

/** One call's usage, as the usage_records table holds it (the writer adds the id). */
export type UsageRecord = Omit<Insertable<UsageRecordTable>, 'id'>;

/** Usage records are written in batches, off the request path: every `intervalMs`, or at `maxBatch` records. */
export class UsageWriter {
  private pending: UsageRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db, private readonly log: FastifyBaseLogger, private readonly intervalMs = 200, private readonly maxBatch = 500) {}

  add(record: UsageRecord): void {
    this.pending.push(record);
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
        await this.db.insertInto('usage_records').values(batch.map((r) => ({ id: `use_${randomUUID()}`, ...r }))).execute();
      } catch (err) {
        this.log.error({ err, records: batch.length }, 'usage records lost');
      }
    });
    return this.flushing;
  }
}
