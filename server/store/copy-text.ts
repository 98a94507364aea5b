import { setImmediate as nextTurn } from 'node:timers/promises';

/** PostgreSQL's COPY text format: how appended rows travel to the database (see `OpenDatabase.append`). */

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPED = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One value in COPY's text format: `\N` for null; backslash, tab, newline and carriage return escaped. */
function copyText(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v); // nothing to escape
  const s =
    typeof v === 'string'
      ? v
      : v instanceof Date
        ? v.toISOString()
        : typeof v === 'object'
          ? JSON.stringify(v)
          : String(v);
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPED, (c) => COPY_ESCAPES[c]!) : s;
}

/** The rows as COPY text: a line per row, tab between values. */
export function copyRows(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < columns.length; i++) out += (i ? '\t' : '') + copyText(row[columns[i]!]);
    out += '\n';
  }
  return out;
}

/** Rows per slice of {@link copySlices}: a few tenths of a millisecond of encoding each. */
const SLICE_ROWS = 250;

/**
 * The rows as COPY text, a slice of rows at a time, with a turn of the event loop between slices. A batch holds
 * a whole interval's request logs (thousands of rows under load), which take milliseconds to encode: in one piece that
 * would stall every request in flight on the thread, and show in the proxy's tail latency.
 */
export async function* copySlices(
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
  sliceRows = SLICE_ROWS,
): AsyncGenerator<string> {
  for (let i = 0; i < rows.length; i += sliceRows) {
    if (i > 0) await nextTurn();
    yield copyRows(columns, rows.slice(i, i + sliceRows));
  }
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** `COPY "table" ("a", "b") FROM STDIN`, identifiers quoted. */
export const copyInto = (table: string, columns: readonly string[]) =>
  `COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`;
