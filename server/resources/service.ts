import { z } from 'zod';
import { defineResource, isoDateTime, name } from './define';

/**
 * A backend that HTTP routes send traffic to (seed 004's ServiceEntity). When `health_check_path` is set, the data
 * plane checks it every `health_check_interval_secs` and records a health snapshot.
 */
export const service = defineResource({
  kind: 'service',
  title: 'Service',
  plural: 'Services',
  description: 'A backend for HTTP routes: its base URL, request timeout and optional health check.',
  path: '/services',
  exportKey: 'services',
  scope: 'tenant-optional',
  area: 'routes',
  id: { source: 'either', prefix: 'svc_' },
  fields: z.strictObject({
    name: name().describe('A label.'),
    target_url: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2048)
      .describe('The base URL requests go to.'),
    health_check_path: z
      .string()
      .regex(/^\/[^\s#]*$/, 'must start with "/" and hold no spaces or "#"')
      .max(1024)
      .nullable()
      .default(null)
      .describe('A path under target_url checked periodically (a 2xx or 3xx is UP); null: no checks.'),
    health_check_interval_secs: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(30)
      .describe('Seconds between health checks.'),
    timeout_ms: z.number().int().min(1).max(600_000).default(30_000).describe('How long a request may take, in ms.'),
    deleted_at: isoDateTime()
      .nullable()
      .default(null)
      .describe(
        'When the tenant portal soft-deleted the service: routes sending to it fail (503) until they are given another service or this is null again.',
      ),
  }),
  computed: z.strictObject({}),
  targets: ['target_url'],
  audit: { created: 'SERVICE_CREATED', updated: 'SERVICE_UPDATED', deleted: 'SERVICE_DELETED' },
});
