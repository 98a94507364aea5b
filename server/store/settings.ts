import type { Executor } from './schema';

/** Reads a setting, writing `create()` first if there is none. Concurrent first starts agree on one value. */
export async function getOrCreateSetting(
  db: Executor,
  key: string,
  create: () => string,
): Promise<{ value: string; created: boolean }> {
  const existing = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  if (existing) return { value: existing.value, created: false };
  const value = create();
  const inserted = await db
    .insertInto('settings')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('value')
    .executeTakeFirst();
  if (inserted) return { value, created: true };
  const winner = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return { value: winner.value, created: false };
}
