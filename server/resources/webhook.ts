import { z } from 'zod';
import { defineResource, secretVersion } from './define';
import { knownEventTypes } from './events';

export const webhook = defineResource({
  kind: 'webhook',
  title: 'Webhook',
  plural: 'Webhooks',
  description:
    'An HTTPS callback for audit events, signed with HMAC-SHA256 (`X-Gateway-Signature: sha256=<hex>`). The secret is shown once.',
  path: '/webhooks',
  exportKey: 'webhooks',
  scope: 'tenant-optional',
  // A global webhook hears every tenant's events: it is the platform's, and tenant callers do not see it.
  nullTenant: 'platform-only',
  area: 'webhooks',
  id: { source: 'either', prefix: 'wh_' },
  fields: z.strictObject({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2048)
      .describe('Where events are POSTed.'),
    events: z
      .array(
        z.union([
          z.literal('*'),
          z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/, 'must be "*" or an event type such as ROUTE_UPDATED'),
        ]),
      )
      .min(1)
      .max(100)
      .describe('Event types to deliver, or "*" for all.'),
    active: z.boolean().default(true).describe('Inactive webhooks receive nothing.'),
    secret_version: secretVersion('secret'),
  }),
  computed: z.strictObject({}),
  targets: ['url'],
  secret: {
    mode: 'encrypted',
    field: 'secret',
    generatePrefix: 'whsec_',
    setField: 'secret_set',
    showOnCreate: true,
    versionField: 'secret_version',
  },
  audit: { created: 'WEBHOOK_CREATED', updated: 'WEBHOOK_UPDATED', deleted: 'WEBHOOK_DELETED' },
  check: (w) => {
    const known = knownEventTypes();
    const message = `is not a known event type: "*" or one of ${known.join(', ')}`;
    return w.events.flatMap((type, i) =>
      type === '*' || known.includes(type) ? [] : [{ path: `events.${i}`, message }],
    );
  },
});
