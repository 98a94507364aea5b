import type { SelectQueryBuilder } from 'kysely';
import { z } from 'zod';
import { validationError } from '../errors';

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
    let at: string, id: string;
    try {
      [at, id] = JSON.parse(Buffer.from(page.cursor, 'base64url').toString('utf8')) as [string, string];
      if (typeof at !== 'string' || typeof id !== 'string' || Number.isNaN(Date.parse(at))) throw new Error('bad cursor');
    } catch {
      throw validationError([{ path: 'cursor', message: 'is not a cursor this list returned' }]);
    }
    q = q.where((eb) => eb.or([eb(column, '<', new Date(at)), eb.and([eb(column, '=', new Date(at)), eb('id', '<', id)])]));
  }
  const rows = await q.orderBy(column, 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1] as (R & Record<string, unknown>) | undefined;
  const next_cursor = rows.length > limit && last ? Buffer.from(JSON.stringify([new Date(last[column] as string).toISOString(), last.id])).toString('base64url') : null;
  return { rows: kept, next_cursor };
}

/** A timestamp column as ISO text. */
export const iso = (v: unknown): string => new Date(v as string).toISOString();
