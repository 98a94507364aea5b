import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Gateway } from '../gateway';
import { ConfigSync } from './config-sync';
import type { ResourceService } from './resource-service';
import { parseQuery } from './resource-routes';
import { callContext } from './request-state';

const exportQuery = z.strictObject({ tenant_id: z.string().max(63).optional(), download: z.enum(['true', 'false']).optional() });
const importQuery = z.strictObject({ mode: z.enum(['merge', 'replace']).optional(), dry_run: z.enum(['true', 'false']).optional() });
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
});

/** `GET /config/export` and `POST /config/import` (seed 002). */
export function registerConfigRoutes(app: FastifyInstance, gw: Gateway, service: ResourceService): void {
  const sync = new ConfigSync(gw, service);
  const tag = 'Config';
  app.get('/config/export', { config: { openapi: { tag, summary: 'Export the configuration as one JSON document (secrets redacted)', query: exportQuery, responses: { 200: z.record(z.string(), z.unknown()) } } } }, async (req, reply) => {
    const q = parseQuery(exportQuery, req.query);
    const doc = await sync.export(callContext(req), q.tenant_id);
    if (q.download === 'true') reply.header('content-disposition', `attachment; filename="portico-config-${String(doc.exported_at).slice(0, 10)}.json"`);
    return doc;
  });
  app.register(async (scoped) => {
    // a whole fleet's configuration can be larger than ordinary admin bodies
    scoped.post('/config/import', { bodyLimit: 32 * 1024 * 1024, config: { openapi: { tag, summary: 'Import a configuration document: merge (upsert) or replace (full sync), optionally as a dry run; atomic', query: importQuery, body: z.record(z.string(), z.unknown()), responses: { 200: importResult } } } }, async (req) => {
      const q = parseQuery(importQuery, req.query);
      return sync.import(callContext(req), req.body, q.mode ?? 'merge', q.dry_run === 'true');
    });
  });
}
