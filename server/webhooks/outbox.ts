import type { AuditEvent } from '../audit/chain';
import type { AppendPart } from '../store/append-hook';
import { queueSubscribedDeliveries } from '../store/webhook-deliveries';

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

/**
 * Queues a delivery per subscribed webhook in the statement that appends the events, so a delivery exists exactly
 * when its change committed, and survives restarts until the dispatcher sends it. Which webhooks subscribe is decided
 * in that statement (see {@link queueSubscribedDeliveries}); each event's body is made here, whether or not any does.
 * `onQueued` is told when some were.
 */
export function enqueueDeliveries(onQueued: () => void): AppendPart {
  return {
    reads: ['webhook'], // a webhook subscribed to its own creation must be in the table when its event is queued
    statement: (events, when) =>
      queueSubscribedDeliveries(
        events.map((event) => {
          const { actor, resource, changes, seq, trace_id } = event;
          const body = deliveryBody({ ...event, data: { seq, actor, resource, changes, trace_id } });
          return { seq, event_id: event.id, event_type: event.type, tenant_id: event.tenant_id, body };
        }),
        when,
      ),
    afterAppend: (rows) => {
      if (rows > 0) onQueued();
    },
  };
}
