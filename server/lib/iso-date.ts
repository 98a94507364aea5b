import { z } from 'zod';

/** ISO-8601 only: Date.parse alone also takes "1" (2001) or "20000" (year 20000, which sorts wrongly as text). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * A query parameter holding an ISO-8601 date or date-time. A date-time without an offset is UTC, as a bare date
 * already is (JavaScript would read it in the server's own time zone): it comes out with a `Z`.
 */
export const isoDateParam = () =>
  z
    .string()
    .refine((s) => ISO_DATE.test(s) && !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 date or date-time')
    .transform((s) => (s.includes('T') && !/(Z|[+-]\d{2}:\d{2})$/.test(s) ? `${s}Z` : s));

/** True for a bare date (`2026-04-30`), which as an upper bound means the whole day. */
export const isDateOnly = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s);

/** A `to` filter as a comparison on a timestamp column: a bare date includes that whole day. */
export const upperBound = (to: string): [op: '<' | '<=', at: Date] => (isDateOnly(to) ? ['<', new Date(Date.parse(to) + 86_400_000)] : ['<=', new Date(to)]);

let lastMs = -1;
let lastIso = '';

/** A time as ISO-8601 text, formatted once per millisecond however many records that millisecond stamps. */
export function isoAt(ms: number): string {
  if (ms !== lastMs) [lastMs, lastIso] = [ms, new Date(ms).toISOString()];
  return lastIso;
}
