import { z } from 'zod';
import { isoDateParam } from '../lib/iso-date';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { listUsageRecords, summarizeUsage, type UsageFilter } from '../store/usage-records';
import { BEARER_AUTH } from './authenticate';
import type { CallContext } from './caller';
import type { ResourceService } from './resource-service';
import { callContext } from './request-state';
import { iso, pageQuery, timeCursor, timePage } from './time-page';

const when = isoDateParam();
/** The seed's parameter names (tenantId, apiKey), as CONTRACT.md section 3 keeps them. */
const filters = z.strictObject({
  tenantId: z.string().max(63).optional(),
  apiKey: z.string().max(100).optional(),
  model: z.string().max(200).optional(),
  from: when.optional(),
  to: when.optional(),
});
const listQuery = filters.extend(pageQuery);

const record = z.object({
  id: z.string(),
  tenant_id: z.string(),
  api_key_id: z.string().nullable(),
  route_id: z.string().nullable(),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cost_usd: z.number(),
  created_at: z.string(),
});
const group = z.object({
  provider: z.string().nullable(),
  model: z.string().nullable(),
  calls: z.number(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cost_usd: z.number(),
});

const totals = group.omit({ provider: true, model: true });
const summarySchema = z.object({ object: z.literal('token_usage_summary'), data: z.array(group), totals });

/** `GET /token-usage` (per-request records) and `/token-usage/summary` (totals by provider and model). */
export const tokenUsageRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-token-usage-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    const tags = ['Token usage'];
    /** The store's filter for a query: the tenant the caller may read, the key, the model and the time range. */
    const scoped = async (ctx: CallContext, q: z.infer<typeof filters>): Promise<UsageFilter> => {
      const tenant = await service.scope.readScope(ctx, 'budgets', q.tenantId, 'read token usage', 'tenantId');
      return { tenant_id: tenant, api_key_id: q.apiKey, model: q.model, from: q.from, to: q.to };
    };
    const list = z.object({ object: z.literal('list'), data: z.array(record), next_cursor: z.string().nullable() });

    app.get(
      '/token-usage',
      {
        schema: {
          summary: 'Per-request token records, newest first',
          tags,
          querystring: listQuery,
          response: { 200: list },
        },
      },
      async (req) => {
        const q = req.query;
        const { rows, next } = await listUsageRecords(gw.db, await scoped(callContext(req), q), timePage(q));
        const data = rows.map((r) => ({ ...r, created_at: iso(r.created_at) }));
        return { object: 'list', data, next_cursor: timeCursor(next) };
      },
    );

    app.get(
      '/token-usage/summary',
      {
        schema: {
          summary: 'Token usage totals by provider and model',
          tags,
          querystring: filters,
          response: { 200: summarySchema },
        },
      },
      async (req) => {
        const data = await summarizeUsage(gw.db, await scoped(callContext(req), req.query));
        const sum = { calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 };
        for (const g of data) {
          sum.calls += g.calls;
          sum.input_tokens += g.input_tokens;
          sum.output_tokens += g.output_tokens;
          sum.cost_usd += g.cost_usd;
        }
        return { object: 'token_usage_summary', data, totals: sum };
      },
    );
  },
);
