import type { FastifyBaseLogger } from 'fastify';
import type { Insertable } from 'kysely';
import { uuid7 } from '../lib/uuid7';
import { within } from '../lib/within';
import type { Gateway } from '../gateway';
import type { Append } from '../store/database';
import { isDataError } from '../store/database-errors';
import type { Database } from '../store/schema';
import type { Spool } from './spool';

/** Tables the data plane appends to in batches. */
export type BatchTable = 'usage_records' | 'request_logs' | 'error_events' | 'health_snapshots';

/** A row as the writer takes it: the writer adds the id. */
export type BatchRow<T extends BatchTable> = Omit<Insertable<Database[T]>, 'id'>;

type Row = Record<string, unknown>;

export interface BatchWriterOptions {
  intervalMs?: number;
  maxBatch?: number;
  /** Rows kept in memory while the database cannot take them; beyond, they go to the spool. */
  maxRows?: number;
  /** Where rows go beyond `maxRows`, and at a stop that could not write them; none: they are dropped and counted. */
  spool?: Spool;
}

/** Waits between tries while the database is unavailable: doubling from the first to the last. */
const RETRY_MS = [500, 5000] as const;

/**
 * Rows written in batches with one COPY, off the request path: every `intervalMs`, or at once at `maxBatch` rows.
 *
 * - A row the database refuses (a data error, SQLSTATE class 22 or 23) is found by splitting the batch in halves, and
 *   dropped and logged alone: one bad row never costs the others.
 * - While the database is unavailable (any other error) the batch is kept and retried with backoff. Up to `maxRows`
 *   wait in memory; a full buffer moves to the spool (oldest first), whose segments drain first once writes succeed.
 *   What neither holds is dropped and counted in {@link dropped}.
 */
export class BatchWriter<T extends BatchTable> {
  /** Rows dropped: refused by the database, or beyond the memory buffer and the spool. */
  readonly dropped = { refused: 0, overflow: 0 };
  private pending: Row[] = [];
  /** Rows taken from memory and being written, so a stop can spool them if the write never ends. */
  private writing: Row[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private spilling: Promise<void> = Promise.resolve();
  /** Rows handed to the spool and not yet on disk. */
  private spillRows = 0;
  /** The wait before the next try; 0 while the database takes writes. */
  private retryMs = 0;
  private stopped = false;
  /** Set when a stop's deadline has passed: a write still running ends the drain, its rows already spooled. */
  private halted = false;
  private readonly intervalMs: number;
  private readonly maxBatch: number;
  private readonly maxRows: number;
  private readonly spool: Spool | undefined;

  constructor(
    private readonly append: Append,
    private readonly log: FastifyBaseLogger,
    readonly table: T,
    private readonly idPrefix: string,
    options: BatchWriterOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 200;
    this.maxBatch = options.maxBatch ?? 2000;
    this.maxRows = options.maxRows ?? 50_000;
    this.spool = options.spool;
    // segments a previous run left behind drain soon after start
    if (this.spool?.oldest(table)) this.schedule(this.intervalMs);
  }

  /** Queues a row, its id added: time-ordered, so the rows append to the end of the primary key's index. */
  add(row: BatchRow<T>): void {
    (row as { id?: string }).id = `${this.idPrefix}${uuid7()}`;
    if (this.pending.length >= this.maxRows && !this.spill()) {
      this.dropped.overflow++;
      return;
    }
    this.pending.push(row as Row);
    if (this.pending.length >= this.maxBatch && !this.retryMs && !this.running) this.runNow();
    else this.schedule(this.retryMs || this.intervalMs);
  }

  /** Rows waiting in memory. */
  get buffered(): number {
    return this.pending.length + this.writing.length;
  }

  /** Writes what is pending; resolves when it is in the database, or once a try found the database unavailable. */
  async flush(): Promise<void> {
    do await this.runNow();
    while (!this.retryMs && (this.pending.length || this.spool?.oldest(this.table)));
  }

  /**
   * Flushes until `deadline` (epoch ms); whatever is still unwritten then (or at once, when the database is
   * unavailable) goes to the spool, or is dropped and counted without one. Resolves by the deadline, plus the
   * spool's own write.
   */
  async stop(deadline: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await within(this.flush(), deadline - Date.now());
    this.halted = true;
    // rows of a write still running when the deadline passed are spooled too: if it does succeed late, they are
    // written twice (at least once, never lost)
    const left = [...this.writing, ...this.pending];
    this.pending = [];
    if (!left.length) return;
    await this.spilling;
    if (this.spool && (await this.spool.write(this.table, left, this.maxBatch).catch(() => false))) {
      this.log.warn({ table: this.table, rows: left.length }, 'records spooled at stop; the next start writes them');
    } else {
      this.dropped.overflow += left.length;
      this.log.error(
        { table: this.table, rows: left.length },
        'records could not be written or spooled at stop; dropped',
      );
    }
  }

  private schedule(ms: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runNow();
    }, ms).unref();
  }

  private runNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running ??= this.drain()
      .catch((err) => this.log.error({ err, table: this.table }, 'batch writer failed'))
      .finally(() => {
        this.running = undefined;
        if (this.pending.length || this.spool?.oldest(this.table)) this.schedule(this.retryMs || this.intervalMs);
      });
    return this.running;
  }

  /** Writes the spool's segments, oldest first, then memory; stops at the first sign of an unavailable database. */
  private async drain(): Promise<void> {
    await this.spilling; // a segment being written holds rows older than what is in memory
    while (!this.halted) {
      const segment = this.spool?.oldest(this.table);
      const rows = segment ? await this.spool!.read(segment).catch(() => []) : this.pending.splice(0, this.maxBatch);
      if (!rows.length) {
        if (!segment) return;
        await this.spool!.remove(segment); // empty or unreadable: nothing in it to keep
        continue;
      }
      if (!segment) this.writing = rows;
      const left = await this.write(rows).finally(() => (this.writing = []));
      if (segment) {
        if (!left.length) await this.spool!.remove(segment);
        else if (left.length < rows.length) await this.spool!.replace(segment, left);
      } else if (left.length) {
        this.pending.unshift(...left);
      }
      if (left.length) {
        this.retryMs = Math.min(Math.max(this.retryMs * 2, RETRY_MS[0]), RETRY_MS[1]);
        return;
      }
      if (this.retryMs) this.log.info({ table: this.table }, 'the database takes records again');
      this.retryMs = 0;
      // rows that came in meanwhile wait for the next interval unless a full batch is ready: writing each trickle at
      // once would cost a COPY every few requests under load instead of one per interval
      if (!segment && this.pending.length < this.maxBatch && !this.spool?.oldest(this.table)) return;
    }
  }

  /**
   * Appends `rows`, isolating rows the database refuses (halving the failing part until the bad row stands alone).
   * Returns the rows left unwritten because the database is unavailable, in order.
   */
  private async write(rows: Row[]): Promise<Row[]> {
    const parts = [rows];
    while (parts.length) {
      const part = parts.shift()!;
      try {
        await this.append(this.table, columnsOf(part), part);
      } catch (err) {
        if (!isDataError(err)) {
          const rows = part.length;
          if (!this.retryMs)
            this.log.warn({ err, table: this.table, rows }, 'database unavailable; records kept to retry');
          return [part, ...parts].flat();
        }
        if (part.length > 1) {
          const mid = part.length >> 1;
          parts.unshift(part.slice(0, mid), part.slice(mid));
          continue;
        }
        this.dropped.refused++;
        // the reason without the value it quotes (SQLSTATE messages put the offending text after a colon)
        const reason = String((err as Error).message).split(':')[0];
        const code = (err as { code?: string }).code;
        this.log.error({ table: this.table, id: part[0]!.id, code, reason }, 'record refused by the database; dropped');
      }
    }
    return [];
  }

  /**
   * Moves the memory buffer to the spool, behind any move still under way (so segments keep their order); false
   * when there is no spool, or the moves under way already hold a buffer's worth of rows (and a batch's).
   */
  private spill(): boolean {
    if (!this.spool || !this.pending.length || this.spillRows >= this.maxRows + this.maxBatch) return false;
    const rows = this.pending;
    this.pending = [];
    this.spillRows += rows.length;
    this.spilling = this.spilling
      .then(() => this.spool!.write(this.table, rows, this.maxBatch))
      .catch(() => false)
      .then((ok) => {
        this.spillRows -= rows.length;
        if (ok) return;
        this.dropped.overflow += rows.length;
        const spoolBytes = this.spool!.maxBytes;
        this.log.error({ table: this.table, rows: rows.length, spoolBytes }, 'the spool is full; records dropped');
      });
    return true;
  }
}

/** Every column any of the rows has (a row without one writes null there). */
function columnsOf(rows: readonly Row[]): string[] {
  const columns = new Set<string>();
  for (const row of rows) for (const k in row) columns.add(k);
  return [...columns];
}

/** A writer for one of the gateway's record tables, with its memory bound and spool from the settings. */
export function recordWriter<T extends BatchTable>(
  gw: Gateway,
  table: T,
  prefix: string,
  intervalMs?: number,
): BatchWriter<T> {
  const options = { intervalMs, maxRows: gw.config.bufferMaxRows, spool: gw.spool };
  return new BatchWriter(gw.append, gw.log, table, prefix, options);
}
