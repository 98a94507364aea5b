import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isoDateParam } from '../lib/iso-date';
import type { Gateway } from '../gateway';
import { listUsageRecords, summarizeUsage, type UsageFilter } from '../store/usage-records';
import type { CallContext } from './caller';
import type { ResourceService } from './resource-service';
import { parseQuery } from './resource-routes';
import { callContext } from './request-state';
import { iso, pageQuery, timeCursor, timePage } from './time-page';

const when = isoDateParam();
/** The seed's parameter names (tenantId, apiKey), as CONTRACT.md section 3 keeps them. */
const filters = z.strictObject({ tenantId: z.string().max(63).optional(), apiKey: z.string().max(100).optional(), model: z.string().max(200).optional(), from: when.optional(), to: when.optional() });
const listQuery = filters.extend(pageQuery);

const record = z.object({ id: z.string(), tenant_id: z.string(), api_key_id: z.string().nullable(), route_id: z.string().nullable(), provider: z.string().nullable(), model: z.string().nullable(), input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number(), created_at: z.string() });
const group = z.object({ provider: z.string().nullable(), model: z.string().nullable(), calls: z.number(), input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number() });

/** `GET /token-usage` (per-request records) and `/token-usage/summary` (totals by provider and model). */
export function registerTokenUsageRoutes(app: FastifyInstance, gw: Gateway, service: ResourceService): void {
  const tag = 'Token usage';
  /** The store's filter for a query: the tenant the caller may read, the key, the model and the time range. */
  const scoped = async (ctx: CallContext, q: z.infer<typeof filters>): Promise<UsageFilter> => {
    const tenant = await service.readScope(ctx, 'budgets', q.tenantId, 'read token usage', 'tenantId');
    return { tenant_id: tenant, api_key_id: q.apiKey, model: q.model, from: q.from, to: q.to };
  };

  app.get('/token-usage', { config: { openapi: { tag, summary: 'Per-request token records, newest first', query: listQuery, responses: { 200: z.object({ object: z.literal('list'), data: z.array(record), next_cursor: z.string().nullable() }) } } } }, async (req) => {
    const q = parseQuery(listQuery, req.query);
    const { rows, next } = await listUsageRecords(gw.db, await scoped(callContext(req), q), timePage(q));
    return { object: 'list', data: rows.map((r) => ({ ...r, created_at: iso(r.created_at) })), next_cursor: timeCursor(next) };
  });

  app.get('/token-usage/summary', { config: { openapi: { tag, summary: 'Token usage totals by provider and model', query: filters, responses: { 200: z.object({ object: z.literal('token_usage_summary'), data: z.array(group), totals: group.omit({ provider: true, model: true }) }) } } } }, async (req) => {
    const q = parseQuery(filters, req.query);
    const data = await summarizeUsage(gw.db, await scoped(callContext(req), q));
    const totals = data.reduce((t, g) => ({ calls: t.calls + g.calls, input_tokens: t.input_tokens + g.input_tokens, output_tokens: t.output_tokens + g.output_tokens, cost_usd: t.cost_usd + g.cost_usd }), { calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 });
    return { object: 'token_usage_summary', data, totals };
  });
}
