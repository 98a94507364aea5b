import type { SelectQueryBuilder } from 'kysely';
import { z } from 'zod';
import { validationError } from '../errors';

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
export const encodeIdCursor = (at: IdPosition) => Buffer.from(at.owner ? `${at.id} ${at.owner}` : at.id).toString('base64url');

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
function decodeTimeCursor(cursor: string): [at: Date, id: string] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw notOurCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw notOurCursor();
  const [at, id] = parsed as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string' || !CURSOR_TIME.test(at) || !ROW_ID.test(id)) throw notOurCursor();
  const time = new Date(at);
  // round trip: 2026-02-30 or 24:00 would silently become another time
  if (Number.isNaN(time.getTime()) || time.toISOString() !== at || at.startsWith('0000')) throw notOurCursor();
  return [time, id];
}

/** `?limit=&cursor=` of a newest-first list. */
export const pageQuery = { limit: z.coerce.number().int().min(1).max(500).optional(), cursor: z.string().max(200).optional() };

/**
 * One page of a newest-first list, keyset-paginated on (`column`, id): stable while new rows arrive. The cursor is
 * opaque to callers (base64url of the last row's time and id).
 */
export async function newestFirst<DB, TB extends keyof DB, R extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, R>,
  column: string,
  page: { limit?: number; cursor?: string },
): Promise<{ rows: R[]; next_cursor: string | null }> {
  const limit = page.limit ?? 50;
  let q = query as unknown as SelectQueryBuilder<any, any, R>;
  if (page.cursor) {
    const [at, id] = decodeTimeCursor(page.cursor);
    q = q.where((eb) => eb.or([eb(column, '<', at), eb.and([eb(column, '=', at), eb('id', '<', id)])]));
  }
  const rows = await q.orderBy(column, 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1] as (R & Record<string, unknown>) | undefined;
  const next_cursor = rows.length > limit && last ? Buffer.from(JSON.stringify([new Date(last[column] as string).toISOString(), last.id])).toString('base64url') : null;
  return { rows: kept, next_cursor };
}

/** A timestamp column as ISO text. */
export const iso = (v: unknown): string => new Date(v as string).toISOString();
