import { z } from 'zod';

/** ISO-8601 only: Date.parse alone also takes "1" (2001) or "20000" (year 20000, which sorts wrongly as text). */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))?)?$/;

/** Days in a month of a year (the Gregorian calendar repeats every 400 years; 2000 + y % 400 keeps leap years). */
const daysIn = (year: number, month: number) => new Date(Date.UTC(2000 + (year % 400), month, 0)).getUTCDate();

/**
 * True when every part names something that exists: Date.parse takes `2026-02-30` as 2 March and `24:00` as the next
 * day, so the parts are checked one by one. Years run from 0001 to 9999.
 */
export function isRealIsoDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false;
  const upTo = (part: string | undefined, max: number) => part === undefined || Number(part) <= max;
  const timeExists = upTo(m[5], 23) && upTo(m[6], 59) && upTo(m[8], 59);
  return timeExists && upTo(m[11], 23) && upTo(m[12], 59) && !Number.isNaN(Date.parse(s));
}

/**
 * A query parameter holding an ISO-8601 date or date-time. A date-time without an offset is UTC, as a bare date
 * already is (JavaScript would read it in the server's own time zone): it comes out with a `Z`.
 */
export const isoDateParam = () =>
  z
    .string()
    .refine(isRealIsoDate, 'must be an ISO-8601 date or date-time that exists (2026-04-30, 2026-04-30T12:00:00Z)')
    .transform((s) => (s.includes('T') && !/(Z|[+-]\d{2}:\d{2})$/.test(s) ? `${s}Z` : s));

/** True for a bare date (`2026-04-30`), which as an upper bound means the whole day. */
export const isDateOnly = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s);

/** A `to` filter as a comparison on a timestamp column: a bare date includes that whole day. */
export const upperBound = (to: string): [op: '<' | '<=', at: Date] =>
  isDateOnly(to) ? ['<', new Date(Date.parse(to) + 86_400_000)] : ['<=', new Date(to)];

let lastMs = -1;
let lastIso = '';

/** A time as ISO-8601 text, formatted once per millisecond however many records that millisecond stamps. */
export function isoAt(ms: number): string {
  if (ms !== lastMs) [lastMs, lastIso] = [ms, new Date(ms).toISOString()];
  return lastIso;
}
