import { z } from 'zod';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { decryptSecret } from '../lib/secrets';
import { webhook as webhookDef } from '../resources';
import { egressOf } from '../net/egress';
import { newDeliveryId, sendSigned } from '../webhooks/dispatcher';
import { deliveryBody } from '../webhooks/outbox';
import { recentDeliveries, recordSentDelivery } from '../store/webhook-deliveries';
import type { ResourceService } from './resource-service';
import { ownerOf } from '../store/resource-store';
import { BEARER_AUTH } from './authenticate';
import { ownerQuery, targetOf } from './resource-routes';
import { callContext } from './request-state';

const resultSchema = z.object({
  delivered: z.boolean(),
  status_code: z.number().nullable(),
  duration_ms: z.number(),
  error: z.string().nullable(),
});
const attemptSchema = z.object({
  attempt: z.number(),
  status_code: z.number().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number(),
  created_at: z.string(),
});
const deliverySchema = z.object({
  id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  status: z.enum(['PENDING', 'DELIVERED', 'FAILED']),
  attempts: z.array(attemptSchema),
  next_attempt_at: z.string().nullable(),
  created_at: z.string(),
});

const deliveryList = z.object({ object: z.literal('list'), data: z.array(deliverySchema), next_cursor: z.null() });
const webhookParams = z.object({ id: z.string() });

/** `POST /webhooks/{id}/test` (a synthetic WEBHOOK_TEST, sent now) and `GET /webhooks/{id}/deliveries` (recent attempts). */
export const webhookRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-webhook-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    const tags = ['Webhooks'];

    app.post(
      '/webhooks/:id/test',
      {
        schema: {
          summary: 'Send a synthetic WEBHOOK_TEST event now',
          tags,
          params: webhookParams,
          querystring: ownerQuery, // webhook ids are unique per tenant
          response: { 200: resultSchema },
        },
      },
      async (req) => {
        // Sending acts on the webhook: the caller needs write access to it, as for a PUT.
        const hook = await service.loadParent(callContext(req), webhookDef, targetOf(req), 'write');
        const created_at = new Date().toISOString();
        const event = {
          id: `evt_test_${newDeliveryId().slice(4)}`,
          type: 'WEBHOOK_TEST',
          created_at,
          tenant_id: hook.tenant_id,
        };
        const body = deliveryBody({
          ...event,
          data: { webhook_id: hook.id, message: 'This is a test event from Portico.' },
        });
        const id = newDeliveryId();
        const secret = decryptSecret(gw.keys.masterKey, hook.secret!);
        const egress = egressOf(gw.config.egressAllow, hook);
        const result = await sendSigned(String(hook.data.url), secret, body, event.type, id, 10_000, egress);
        const status = result.delivered ? 'DELIVERED' : 'FAILED';
        const webhook_owner = ownerOf(hook.tenant_id);
        const { status_code, error, duration_ms } = result;
        await recordSentDelivery(
          gw.db,
          {
            id,
            webhook_id: hook.id,
            webhook_owner,
            event_id: event.id,
            event_type: event.type,
            body,
            status,
            attempts: 1,
          },
          { delivery_id: id, attempt: 1, status_code, error, duration_ms },
        );
        return result;
      },
    );

    app.get(
      '/webhooks/:id/deliveries',
      {
        schema: {
          summary: 'Recent deliveries of a webhook and their attempts, newest first',
          tags,
          params: webhookParams,
          querystring: ownerQuery, // webhook ids are unique per tenant
          response: { 200: deliveryList },
        },
      },
      async (req) => {
        const hook = await service.loadParent(callContext(req), webhookDef, targetOf(req), 'read');
        const { deliveries, attempts } = await recentDeliveries(gw.db, hook, 50);
        const iso = (d: Date | string) => new Date(d).toISOString();
        return {
          object: 'list',
          data: deliveries.map((d) => ({
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            created_at: iso(d.created_at),
            next_attempt_at: d.status === 'PENDING' ? iso(d.next_attempt_at) : null,
            attempts: attempts
              .filter((a) => a.delivery_id === d.id)
              .map((a) => ({
                attempt: a.attempt,
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
                created_at: iso(a.created_at),
              })),
          })),
          next_cursor: null,
        };
      },
    );
  },
);
