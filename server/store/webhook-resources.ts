import type { Executor } from './schema';
import type { ClaimedDelivery } from './webhook-deliveries';

/**
 * Webhooks as the outbox and the dispatcher read them: straight from the resources table (not the snapshot), so a
 * delivery is queued and sent by the committed state, the target's sealed secret included.
 */

/** Webhooks that may receive `tenantId`'s events: the tenant's own and the global ones (only global for null). */
export function webhooksSeeing(db: Executor, tenantId: string | null) {
  let q = db.selectFrom('resources').select(['id', 'tenant_id', 'data']).where('kind', '=', 'webhook');
  q =
    tenantId === null
      ? q.where('tenant_id', 'is', null)
      : q.where((eb) => eb.or([eb('tenant_id', 'is', null), eb('tenant_id', '=', tenantId)]));
  return q.execute();
}

/** Every webhook, read once for a batch of events with many tenants (config import). */
export function webhooksOfEveryone(db: Executor) {
  return db.selectFrom('resources').select(['id', 'tenant_id', 'data']).where('kind', '=', 'webhook').execute();
}

/** The webhook a delivery is for (ids are unique per owner), with its sealed secret; undefined once deleted. */
export function webhookTarget(db: Executor, d: Pick<ClaimedDelivery, 'webhook_id' | 'webhook_owner'>) {
  return db
    .selectFrom('resources')
    .select(['tenant_id', 'data', 'secret'])
    .where('kind', '=', 'webhook')
    .where('owner', '=', d.webhook_owner)
    .where('id', '=', d.webhook_id)
    .executeTakeFirst();
}
