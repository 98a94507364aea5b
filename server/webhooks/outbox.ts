import { randomUUID } from 'node:crypto';
import type { AppendHook } from '../store/append-hook';
import type { AuditEvent } from '../audit/chain';
import { ownerOf } from '../store/resource-store';
import type { Executor } from '../store/schema';
import { queueDeliveries, type QueuedDelivery } from '../store/webhook-deliveries';
import { webhooksOfEveryone, webhooksSeeing } from '../store/webhook-resources';

/** The body every delivery carries: `{id, type, created_at, tenant_id, data}` (CONTRACT.md, Webhook). */
export function deliveryBody(
  event: Pick<AuditEvent, 'id' | 'type' | 'created_at' | 'tenant_id'> & { data: unknown },
): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    created_at: event.created_at,
    tenant_id: event.tenant_id,
    data: event.data,
  });
}

const subscribes = (events: unknown, type: string) =>
  Array.isArray(events) && (events.includes('*') || events.includes(type));

type WebhookRow = Awaited<ReturnType<typeof webhooksSeeing>>[number];

/** Active webhooks that want `type` for `tenantId`: the tenant's own and the global ones. */
function subscribers(rows: WebhookRow[], tenantId: string | null, type: string) {
  return rows.filter(
    (r) =>
      (r.tenant_id === null || r.tenant_id === tenantId) && r.data.active === true && subscribes(r.data.events, type),
  );
}

/** The webhooks the events may reach: one event's tenant's and the global ones, or (many events) every webhook once. */
const webhooksFor = (db: Executor, events: readonly AuditEvent[]) =>
  events.length === 1 ? webhooksSeeing(db, events[0]!.tenant_id) : webhooksOfEveryone(db);

/**
 * Queues a delivery per subscribed webhook in the same transaction as the events, so a delivery exists exactly when
 * its change committed, and survives restarts until the dispatcher sends it.
 */
export function enqueueDeliveries(onQueued: () => void): AppendHook {
  return async (tx, events) => {
    const deliveries: QueuedDelivery[] = [];
    const webhooks = await webhooksFor(tx, events);
    for (const event of events) {
      const hooks = subscribers(webhooks, event.tenant_id, event.type);
      if (!hooks.length) continue;
      const { actor, resource, changes, seq, trace_id } = event;
      const body = deliveryBody({ ...event, data: { seq, actor, resource, changes, trace_id } });
      for (const hook of hooks)
        deliveries.push({
          id: `dlv_${randomUUID()}`,
          webhook_id: hook.id,
          webhook_owner: ownerOf(hook.tenant_id),
          event_id: event.id,
          event_type: event.type,
          body,
        });
    }
    // all of them at once: a config import's thousands of events are a few statements, not one each
    if (!deliveries.length) return;
    await queueDeliveries(tx, deliveries);
    onQueued();
  };
}
