import { z } from 'zod';
import { ApiError } from '../errors';
import { isDateOnly, isoDateParam } from '../lib/iso-date';
import type { Gateway } from '../gateway';
import { listAuditEvents, readChain, readHead, type AuditFilter } from '../store/audit-events';
import { routePlugin } from '../http/route-plugin';
import { textResponse, ZOD_SCHEMAS } from '../http/route-schemas';
import { publicKeyFromPem, verifyWithHead, type AuditEvent } from '../audit/chain';
import type { ResourceService } from './resource-service';
import { allows } from './permissions';
import { BEARER_AUTH } from './authenticate';
import { callContext } from './request-state';
import type { CallContext } from './caller';

const when = isoDateParam();
const filterQuery = z.strictObject({
  tenant_id: z.string().max(63).optional(),
  type: z.string().max(100).optional(),
  from: when.optional(),
  to: when.optional(),
});
const listQuery = filterQuery.extend({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'is not a cursor this list returned')
    .optional(),
});

const actor = z.object({ type: z.string(), id: z.string(), name: z.string() });
const eventSchema = z.object({
  id: z.string(),
  seq: z.number(),
  created_at: z.string(),
  type: z.string(),
  actor,
  tenant_id: z.string().nullable(),
  resource: z.object({ kind: z.string(), id: z.string() }).nullable(),
  changes: z.unknown(),
  trace_id: z.string().nullable(),
  prev_hash: z.string(),
  hash: z.string(),
  signature: z.string(),
});
const EXPORT_MAX = 100_000;
const CSV_COLUMNS = [
  'id',
  'seq',
  'created_at',
  'type',
  'actor_type',
  'actor_id',
  'actor_name',
  'tenant_id',
  'resource_kind',
  'resource_id',
  'changes',
  'trace_id',
  'prev_hash',
  'hash',
  'signature',
];

/** One CSV cell, quoted when it holds a comma, a quote or a line break. */
const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * A cell of text someone else chose (a token's name, an id, a client's request id): when a spreadsheet would run it
 * as a formula (it starts with =, +, -, @, a tab or a carriage return) it gets a leading apostrophe, as OWASP
 * advises. What Portico writes itself (hashes, signatures, times, JSON) stays exact; the JSON export keeps every
 * value exactly as signed.
 */
const csvText = (v: string | null | undefined) => csvCell(v && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

const csvRow = (e: AuditEvent) =>
  [
    csvCell(e.id),
    csvCell(e.seq),
    csvCell(e.created_at),
    csvCell(e.type),
    csvCell(e.actor.type),
    csvText(e.actor.id),
    csvText(e.actor.name),
    csvText(e.tenant_id),
    csvCell(e.resource?.kind),
    csvText(e.resource?.id),
    csvCell(e.changes),
    csvText(e.trace_id),
    csvCell(e.prev_hash),
    csvCell(e.hash),
    csvCell(e.signature),
  ].join(',');

/** Normalizes a date filter to the ISO form events are stored in, so text comparison orders correctly. */
const iso = (s: string | undefined, end = false) => {
  if (s === undefined) return undefined;
  const dateOnly = isDateOnly(s);
  return new Date(Date.parse(s) + (dateOnly && end ? 86_399_999 : 0)).toISOString();
};

/** The audit surface: list, CSV/JSON export, verification and the signing public key. */
export const auditRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-audit-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    const tags = ['Audit'];
    const scopedFilter = async (ctx: CallContext, q: z.infer<typeof filterQuery>): Promise<AuditFilter> => ({
      tenant_id: await service.scope.readScope(ctx, 'audit', q.tenant_id, 'read audit events'),
      type: q.type,
      from: iso(q.from),
      to: iso(q.to, true),
    });
    const list = z.object({
      object: z.literal('list'),
      data: z.array(eventSchema),
      next_cursor: z.string().nullable(),
    });

    app.get(
      '/audit/events',
      { schema: { summary: 'List audit events, newest first', tags, querystring: listQuery, response: { 200: list } } },
      async (req) => {
        const q = req.query;
        const limit = q.limit ?? 50;
        const filter = await scopedFilter(callContext(req), q);
        const events = await listAuditEvents(gw.db, filter, limit + 1, q.cursor ? Number(q.cursor) : undefined);
        const data = events.slice(0, limit);
        return { object: 'list', data, next_cursor: events.length > limit ? String(data[data.length - 1]!.seq) : null };
      },
    );

    const csv = textResponse('text/csv', z.string());
    app.get(
      '/audit/events/export',
      { schema: { summary: 'Export audit events as CSV', tags, querystring: filterQuery, response: { 200: csv } } },
      async (req, reply) => {
        const events = await listAuditEvents(gw.db, await scopedFilter(callContext(req), req.query), EXPORT_MAX);
        reply.header('content-type', 'text/csv; charset=utf-8');
        reply.header('content-disposition', 'attachment; filename="audit-events.csv"');
        return [CSV_COLUMNS.join(','), ...events.map(csvRow)].join('\r\n') + '\r\n';
      },
    );

    app.get(
      '/audit/events/export/json',
      {
        schema: {
          summary: 'Export audit events as a JSON array',
          tags,
          querystring: filterQuery,
          response: { 200: z.array(eventSchema) },
        },
      },
      async (req, reply) => {
        const events = await listAuditEvents(gw.db, await scopedFilter(callContext(req), req.query), EXPORT_MAX);
        reply.header('content-disposition', 'attachment; filename="audit-events.json"');
        return events;
      },
    );

    const verified = z.object({
      valid: z.boolean(),
      checked: z.number(),
      first_invalid_seq: z.number().nullable(),
      reason: z.string().optional().describe('Why the first invalid event failed; only when `valid` is false.'),
    });
    app.get(
      '/audit/verify',
      { schema: { summary: 'Verify the whole hash chain and every signature', tags, response: { 200: verified } } },
      async (req) => {
        const ctx = callContext(req);
        if (ctx.caller.tenantId || !allows(ctx.caller.role, 'audit', 'read')) {
          throw new ApiError('FORBIDDEN', 'Verifying the whole chain needs a platform role');
        }
        // one snapshot of events and head, so an append in between is not taken for tampering
        const [events, head] = await gw.db
          .transaction()
          .setIsolationLevel('repeatable read')
          .execute(async (tx) => [await readChain(tx), await readHead(tx)] as const);
        return verifyWithHead(events, head, publicKeyFromPem(gw.keys.auditPublicKeyPem));
      },
    );

    app.get(
      '/audit/public-key',
      {
        schema: {
          summary: 'The Ed25519 public key (PEM) that verifies event signatures',
          tags,
          response: { 200: textResponse('application/x-pem-file', z.string()) },
        },
      },
      async (_req, reply) => {
        reply.header('content-type', 'application/x-pem-file');
        return gw.keys.auditPublicKeyPem;
      },
    );
  },
);
