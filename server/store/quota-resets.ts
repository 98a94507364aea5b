import { sql } from 'kysely';
import type { Executor } from './schema';

/**
 * Quota resets (the node admin API's): the latest reset of each API key. Writing one recounts the key's quota usage
 * from its logs since the reset, and later logs count only requests started after it (migrations/014-quota-usage.ts).
 */

export interface QuotaReset {
  tenant_id: string;
  api_key_id: string;
  reset_at: Date;
}

/** Records a reset; an earlier one than the key already has (clocks of two nodes) leaves the later in place. */
export async function recordQuotaReset(db: Executor, reset: QuotaReset): Promise<void> {
  await db
    .insertInto('quota_resets')
    .values(reset)
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'api_key_id'])
        .doUpdateSet({ reset_at: sql<Date>`greatest(quota_resets.reset_at, excluded.reset_at)` }),
    )
    .execute();
}
