import type { Executor } from './schema';
import type { ClaimedDelivery } from './webhook-deliveries';

/**
 * Webhooks as the dispatcher reads them: straight from the resources table (not the snapshot), so a delivery is sent
 * by the committed state, the target's sealed secret included. (The outbox reads them in the statement that queues
 * the deliveries: see webhook-deliveries.ts.)
 */

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
