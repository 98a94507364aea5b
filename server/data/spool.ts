import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SEGMENT = /^([a-z_]+)\.(\d{12})\.ndjson$/;

/** A segment's file name: its table and sequence number (zero-padded, so names sort oldest first). */
export const segmentName = (table: string, seq: number) => `${table}.${String(seq).padStart(12, '0')}.ndjson`;

/** Rows as JSON lines. */
const lines = (rows: readonly object[]) => rows.map((row) => `${JSON.stringify(row)}\n`).join('');

/**
 * Records the database could not take, kept on local disk until it can: one file ("segment") per batch, a JSON line
 * per row, named `<table>.<sequence>.ndjson` so the oldest drains first. The files of all tables together stay under
 * `maxBytes`; a write that would pass it is refused and its rows are the caller's to count as dropped. A segment is
 * written to a temporary name and renamed, so a crash never leaves half of one.
 */
export class Spool {
  private bytes = 0;
  private seq = 0;
  /** Per table, its segment names, oldest first. */
  private readonly segments = new Map<string, string[]>();
  private readonly sizes = new Map<string, number>();

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** Opens (creating) the spool directory and indexes the segments a previous run left. */
  static async open(dir: string, maxBytes: number): Promise<Spool> {
    const spool = new Spool(dir, maxBytes);
    await mkdir(dir, { recursive: true });
    for (const name of (await readdir(dir)).sort()) {
      const m = SEGMENT.exec(name);
      if (!m) {
        if (name.endsWith('.tmp')) await unlink(join(dir, name)).catch(() => {});
        continue;
      }
      spool.track(m[1]!, name, (await stat(join(dir, name))).size);
      spool.seq = Math.max(spool.seq, Number(m[2]));
    }
    return spool;
  }

  /** Bytes held on disk now. */
  get size(): number {
    return this.bytes;
  }

  /** The oldest segment of `table`, if any. */
  oldest(table: string): string | undefined {
    return this.segments.get(table)?.[0];
  }

  /** Writes `rows` as segments of at most `perSegment` rows; false (nothing written) when they would not fit. */
  async write(table: string, rows: readonly object[], perSegment: number): Promise<boolean> {
    const chunks: { text: string; size: number }[] = [];
    let total = 0;
    for (let i = 0; i < rows.length; i += perSegment) {
      const text = lines(rows.slice(i, i + perSegment));
      const size = Buffer.byteLength(text);
      chunks.push({ text, size });
      total += size;
    }
    if (this.bytes + total > this.maxBytes) return false;
    this.bytes += total; // reserved now, so concurrent writes cannot pass the bound together
    let reserved = total;
    try {
      for (const { text, size } of chunks) {
        const name = segmentName(table, ++this.seq);
        await this.writeWhole(name, text);
        reserved -= size;
        this.bytes -= size; // the reservation becomes the tracked segment's size
        this.track(table, name, size);
      }
    } finally {
      this.bytes -= reserved; // a write that failed half way frees what it did not use
    }
    return true;
  }

  /** The rows of a segment, in the order they were written. */
  async read(name: string): Promise<Record<string, unknown>[]> {
    const text = await readFile(join(this.dir, name), 'utf8');
    return text
      .split('\n')
      .filter((line) => line)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Puts back the rows of a segment that are still unwritten (some of it made it before the database went away). */
  async replace(name: string, rows: readonly object[]): Promise<void> {
    const text = lines(rows);
    const size = Buffer.byteLength(text);
    await this.writeWhole(name, text);
    this.bytes += size - (this.sizes.get(name) ?? 0);
    this.sizes.set(name, size);
  }

  /** Writes a segment under a temporary name and renames it, so a crash never leaves half of one. */
  private async writeWhole(name: string, text: string): Promise<void> {
    await writeFile(join(this.dir, `${name}.tmp`), text);
    await rename(join(this.dir, `${name}.tmp`), join(this.dir, name));
  }

  /** Deletes a segment whose rows are in the database. */
  async remove(name: string): Promise<void> {
    await unlink(join(this.dir, name)).catch(() => {});
    const table = SEGMENT.exec(name)![1]!;
    const list = this.segments.get(table) ?? [];
    list.splice(list.indexOf(name), 1);
    this.bytes -= this.sizes.get(name) ?? 0;
    this.sizes.delete(name);
  }

  private track(table: string, name: string, size: number): void {
    const list = this.segments.get(table) ?? [];
    list.push(name);
    this.segments.set(table, list);
    this.sizes.set(name, size);
    this.bytes += size;
  }
}
