import { sql, type Insertable, type Selectable } from 'kysely';
import { insertJsonRows } from './json-rows';
import { ownerOf, type ResourceKey } from './resource-store';
import type { Db, Executor, WebhookAttemptTable, WebhookDeliveryTable } from './schema';

/**
 * The webhook outbox: deliveries (queued in the transaction of their audit events) and the log of their attempts.
 * The dispatcher claims and records them; the admin API sends test deliveries and lists recent ones.
 */

export type Delivery = Selectable<WebhookDeliveryTable>;
export type Attempt = Selectable<WebhookAttemptTable>;
export type NewDelivery = Insertable<WebhookDeliveryTable>;
export type NewAttempt = Insertable<WebhookAttemptTable>;

/** A delivery as the dispatcher sends it. */
export type ClaimedDelivery = Pick<
  Delivery,
  'id' | 'webhook_id' | 'webhook_owner' | 'event_type' | 'body' | 'attempts'
>;

/** One webhook among all owners' (ids are unique per owner): the same text as the claim query's key. */
export const webhookKey = (d: Pick<Delivery, 'webhook_id' | 'webhook_owner'>) => `${d.webhook_owner} ${d.webhook_id}`;

/** A queued delivery: who it is for and what it carries (the rest has its defaults: pending, due now). */
export type QueuedDelivery = Pick<
  NewDelivery,
  'id' | 'webhook_id' | 'webhook_owner' | 'event_id' | 'event_type' | 'body'
>;

const QUEUED_COLUMNS = {
  id: 'text',
  webhook_id: 'text',
  webhook_owner: 'text',
  event_id: 'text',
  event_type: 'text',
  body: 'text',
};

/**
 * Queues deliveries (in the caller's transaction, so they exist exactly when their change committed), in a few
 * statements however many there are (a config import's events to a webhook that takes every type).
 */
export async function queueDeliveries(db: Executor, deliveries: QueuedDelivery[]): Promise<void> {
  await insertJsonRows(db, 'webhook_deliveries', QUEUED_COLUMNS, deliveries);
}

/** A delivery already made (a test send) and its one attempt, together. */
export async function recordSentDelivery(db: Db, delivery: NewDelivery, attempt: NewAttempt): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('webhook_deliveries').values(delivery).execute();
    await tx.insertInto('webhook_attempts').values(attempt).execute();
  });
}

/** A webhook's latest deliveries, newest first, and all their attempts in attempt order. */
export async function recentDeliveries(
  db: Executor,
  webhook: ResourceKey,
  limit: number,
): Promise<{ deliveries: Delivery[]; attempts: Attempt[] }> {
  const deliveries = await db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_owner', '=', ownerOf(webhook.tenant_id))
    .where('webhook_id', '=', webhook.id)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
  const ids = deliveries.map((d) => d.id);
  const attempts = ids.length
    ? await db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('attempt').execute()
    : [];
  return { deliveries, attempts };
}

/**
 * Takes up to n due deliveries, the oldest of each webhook not in `busy` (by {@link webhookKey}), leasing them for `leaseMs` so another
 * instance leaves them alone (FOR UPDATE SKIP LOCKED: several instances share the work). Rows not taken are only
 * locked until the transaction ends.
 */
export function claimDueDeliveries(
  db: Db,
  n: number,
  busy: ReadonlySet<string>,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  return db.transaction().execute(async (tx) => {
    let query = tx
      .selectFrom('webhook_deliveries')
      .select(['id', 'webhook_id', 'webhook_owner', 'event_type', 'body', 'attempts'])
      .where('status', '=', 'PENDING')
      .where('next_attempt_at', '<=', sql<Date>`now()`);
    if (busy.size) query = query.where(sql<string>`webhook_owner || ' ' || webhook_id`, 'not in', [...busy]);
    const due = await query
      .orderBy('next_attempt_at')
      .limit(Math.min(n * 4, 200))
      .forUpdate()
      .skipLocked()
      .execute();
    const taken: ClaimedDelivery[] = [];
    const hooks = new Set<string>();
    for (const d of due) {
      if (taken.length >= n || hooks.has(webhookKey(d))) continue;
      hooks.add(webhookKey(d));
      taken.push(d);
    }
    if (taken.length) {
      const lease = new Date(Date.now() + leaseMs);
      const ids = taken.map((d) => d.id);
      await tx.updateTable('webhook_deliveries').set({ next_attempt_at: lease }).where('id', 'in', ids).execute();
    }
    return taken;
  });
}

/** An attempt and where its delivery now stands (sent, given up, or due again at `next_attempt_at`), together. */
export async function recordAttempt(
  db: Db,
  attempt: NewAttempt,
  outcome: { status: Delivery['status']; next_attempt_at: Date },
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('webhook_attempts').values(attempt).execute();
    await tx
      .updateTable('webhook_deliveries')
      .set({
        attempts: attempt.attempt,
        status: outcome.status,
        next_attempt_at: outcome.next_attempt_at,
        updated_at: new Date(),
      })
      .where('id', '=', attempt.delivery_id)
      .execute();
  });
}
