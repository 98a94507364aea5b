import { sql, type Insertable, type RawBuilder, type Selectable } from 'kysely';
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

/** An event as the outbox queues it, with the body its deliveries carry (computed by the caller). */
export interface OutboxEvent {
  seq: number;
  event_id: string;
  event_type: string;
  tenant_id: string | null;
  body: string;
}

/**
 * A delivery per (event, subscribed webhook), as a statement to ride on the append of the events (so a delivery
 * exists exactly when its change committed), done only where `when` holds; returns a row per delivery. A webhook
 * gets an event when it is the event's tenant's or global (only global for an event of no tenant), active, and its
 * `events` hold the event's type or '*'. The webhooks are read as committed (not the snapshot), in the same statement.
 */
export function queueSubscribedDeliveries(events: readonly OutboxEvent[], when: RawBuilder<boolean>) {
  const rows = JSON.stringify(events);
  return sql`insert into webhook_deliveries (id, webhook_id, webhook_owner, event_id, event_type, body)
    select 'dlv_' || gen_random_uuid(), w.id, w.owner, e.event_id, e.event_type, e.body
    from json_to_recordset(${rows}::json)
      as e(seq bigint, event_id text, event_type text, tenant_id text, body text)
    join resources w on w.kind = 'webhook' and (w.tenant_id is null or w.tenant_id = e.tenant_id)
    where ${when} and w.data -> 'active' = 'true'::jsonb
      and (w.data -> 'events' @> jsonb_build_array(e.event_type) or w.data -> 'events' @> '["*"]'::jsonb)
    order by e.seq, w.owner, w.id
    returning 1`;
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
