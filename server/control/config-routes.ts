import { z } from 'zod';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { checkedByHandler, ZOD_SCHEMAS } from '../http/route-schemas';
import { BEARER_AUTH } from './authenticate';
import { ConfigSync } from './config-sync';
import type { ResourceService } from './resource-service';
import { callContext } from './request-state';

const exportQuery = z.strictObject({
  tenant_id: z.string().max(63).optional(),
  download: z.enum(['true', 'false']).optional(),
});
const importQuery = z.strictObject({
  tenant_id: z.string().max(63).optional(),
  mode: z.enum(['merge', 'replace']).optional(),
  dry_run: z.enum(['true', 'false']).optional(),
  content_hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "must be the 64 hex digits of a preview's content_hash")
    .optional()
    .describe('The content_hash of a dry run: the import is refused (409) unless it would apply exactly that plan.'),
});
const ref = z.object({ kind: z.string(), id: z.string() });
const importResult = z.object({
  mode: z.enum(['merge', 'replace']),
  dry_run: z.boolean(),
  created: z.array(ref),
  updated: z.array(ref),
  deleted: z.array(ref),
  unchanged: z.number(),
  skipped: z.array(ref),
  warnings: z.array(z.string()),
  generated_secrets: z.array(ref.extend({ field: z.string(), value: z.string() })),
  changes: z
    .array(
      ref.extend({
        op: z.enum(['create', 'update', 'delete']),
        tenant_id: z.string().nullable(),
        changes: z.array(
          z.object({
            path: z.string(),
            before: z.unknown().optional(),
            after: z.unknown().optional(),
            sensitive: z.literal(true).optional(),
          }),
        ),
      }),
    )
    .optional()
    .describe('Dry runs: every change field by field, in apply order; secrets appear as "***".'),
  audit_event_id: z.string().optional().describe('Real runs: the CONFIG_IMPORTED audit event.'),
  content_hash: z
    .string()
    .describe(
      'SHA-256 of the mode, scope and planned changes; pass it to the real run to apply only what was previewed.',
    ),
});

/** `GET /config/export` and `POST /config/import` (seed 002). */
export const configRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-config-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    const sync = new ConfigSync(gw, service);
    const tags = ['Config'];
    app.get(
      '/config/export',
      {
        schema: {
          summary: 'Export the configuration as one JSON document (secrets redacted)',
          tags,
          querystring: exportQuery,
          response: { 200: z.record(z.string(), z.unknown()) },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const doc = await sync.export(callContext(req), q.tenant_id);
        const day = String(doc.exported_at).slice(0, 10);
        if (q.download === 'true')
          reply.header('content-disposition', `attachment; filename="portico-config-${day}.json"`);
        return doc;
      },
    );
    app.post(
      '/config/import',
      {
        // a whole fleet's configuration can be larger than ordinary admin bodies
        bodyLimit: 32 * 1024 * 1024,
        schema: {
          summary:
            'Import a configuration document: merge (upsert) or replace (full sync), optionally as a dry run; atomic',
          tags,
          querystring: importQuery,
          // the import checks the role first, then the whole document (every error at its path)
          body: checkedByHandler(z.record(z.string(), z.unknown())),
          response: { 200: importResult },
        },
      },
      async (req) => {
        const q = req.query;
        const dryRun = q.dry_run === 'true';
        return sync.import(callContext(req), req.body, q.mode ?? 'merge', dryRun, q.tenant_id, q.content_hash);
      },
    );
  },
);
