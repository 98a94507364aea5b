import type { Executor } from './schema';

/**
 * Each API key's admitted requests this UTC day and month, as the database keeps them with the request logs
 * (migrations/014-quota-usage.ts): start-up reads these rows, a few per key, however many logs there are.
 */

/** Requests of one key since the start of a month, and since the start of a day within it. */
export interface KeyRequestCount {
  tenant_id: string;
  api_key_id: string;
  month: number;
  day: number;
}

/** Each key's counts in the month and the day that start at `month` and `day` (keys with none are not listed). */
export async function quotaUsage(db: Executor, month: Date, day: Date): Promise<KeyRequestCount[]> {
  const rows = await db
    .selectFrom('quota_usage')
    .select(['period', 'tenant_id', 'api_key_id', 'count'])
    .where((eb) =>
      eb.or([
        eb.and([eb('starts_at', '=', month), eb('period', '=', 'month')]),
        eb.and([eb('starts_at', '=', day), eb('period', '=', 'day')]),
      ]),
    )
    .execute();
  const byKey = new Map<string, KeyRequestCount>();
  for (const r of rows) {
    const id = `${r.tenant_id}\n${r.api_key_id}`;
    const entry = byKey.get(id) ?? { tenant_id: r.tenant_id, api_key_id: r.api_key_id, month: 0, day: 0 };
    entry[r.period] = Number(r.count);
    byKey.set(id, entry);
  }
  return [...byKey.values()];
}

/** Drops the rows of windows that ended before `month` began: what is left is this month's, a few rows per key. */
export async function pruneQuotaUsage(db: Executor, month: Date): Promise<void> {
  await db.deleteFrom('quota_usage').where('starts_at', '<', month).execute();
}
