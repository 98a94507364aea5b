import { sql } from 'kysely';
import { ownerOf } from './resource-store';
import type { Executor } from './schema';

/** One key's latest use, as the data plane saw it. */
export interface KeyUse {
  tenant_id: string;
  id: string;
  at: Date;
}

/**
 * Sets `last_used_at` on every key of `uses` in one statement. Key ids are unique per tenant, so the tenant is part
 * of the match. Usage is not configuration: no version, no audit event, no change notification.
 */
export async function writeKeysLastUsed(db: Executor, uses: readonly KeyUse[]): Promise<void> {
  if (!uses.length) return;
  const owners = uses.map((u) => ownerOf(u.tenant_id));
  const ids = uses.map((u) => u.id);
  const times = uses.map((u) => u.at.toISOString());
  await sql`update resources r set data = jsonb_set(r.data, '{last_used_at}', to_jsonb(u.t))
    from unnest(${owners}::text[], ${ids}::text[], ${times}::text[]) as u(owner, id, t)
    where r.kind = 'api_key' and r.owner = u.owner and r.id = u.id`.execute(db);
}
