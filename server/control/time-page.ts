import { z } from 'zod';
import { validationError } from '../errors';
import type { TimePage, TimePosition } from '../store/time-list';

/** Row ids as cursors carry them: slugs, server-made ids, UUIDs. */
const ROW_ID = /^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$/;
/** A time as a cursor carries it (toISOString of a time PostgreSQL can hold): years 0001 to 9999, UTC. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const notOurCursor = () => validationError([{ path: 'cursor', message: 'is not a cursor this list returned' }]);

/** A place in a list ordered by id, then owner (ids are unique per owner: two tenants may share one). */
export interface IdPosition {
  id: string;
  /** The owning tenant's id, '' for a global resource. */
  owner: string;
}

/** The cursor of a list ordered by (id, owner): `id` or `id owner`, base64url. */
export const encodeIdCursor = (at: IdPosition) =>
  Buffer.from(at.owner ? `${at.id} ${at.owner}` : at.id).toString('base64url');

/**
 * The position an id cursor names; a 400 naming `cursor` for anything this list could not have returned (garbage would
 * otherwise decode to some text and answer an empty page, or a NUL that PostgreSQL refuses).
 */
export function decodeIdCursor(cursor: string): IdPosition {
  const [id = '', owner = '', ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split(' ');
  const at = { id, owner };
  const ownerOk = owner === '' || ROW_ID.test(owner);
  if (rest.length || !ROW_ID.test(id) || !ownerOk || encodeIdCursor(at) !== cursor) throw notOurCursor();
  return at;
}

/** The (time, id) a newest-first cursor names; 400 naming `cursor` unless it is one such a list returned. */
function decodeTimeCursor(cursor: string): TimePosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw notOurCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw notOurCursor();
  const [at, id] = parsed as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string' || !CURSOR_TIME.test(at) || !ROW_ID.test(id))
    throw notOurCursor();
  const time = new Date(at);
  // round trip: 2026-02-30 or 24:00 would silently become another time
  if (Number.isNaN(time.getTime()) || time.toISOString() !== at || at.startsWith('0000')) throw notOurCursor();
  return { at: time, id };
}

/** `?limit=&cursor=` of a newest-first list. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(200).optional(),
};

/** The page a newest-first list's `?limit=&cursor=` asks for (50 rows by default). */
export const timePage = (page: { limit?: number; cursor?: string }): TimePage => ({
  limit: page.limit ?? 50,
  after: page.cursor ? decodeTimeCursor(page.cursor) : undefined,
});

/** The `next_cursor` of a newest-first page: opaque to callers (base64url of the last row's time and id). */
export const timeCursor = (next: TimePosition | null): string | null =>
  next && Buffer.from(JSON.stringify([next.at.toISOString(), next.id])).toString('base64url');

/** A timestamp column as ISO text. */
export const iso = (v: unknown): string => new Date(v as string).toISOString();
