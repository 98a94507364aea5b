import { z } from 'zod';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { budget as budgetDef, type BudgetState } from '../resources';
import { budgetUsage } from '../budgets/spend';
import type { ResourceService } from './resource-service';
import { BEARER_AUTH } from './authenticate';
import { callContext } from './request-state';
import { ownerQuery, targetOf } from './resource-routes';

const usageSchema = z.object({
  budget_id: z.string(),
  period_start: z.string(),
  period_end: z.string(),
  spent_usd: z.number(),
  limit_usd: z.number(),
  remaining_usd: z.number(),
  percent_used: z.number(),
  exceeded: z.boolean(),
});

/** `GET /budgets/{id}/usage`: who may read the budget may read its spend. */
export const budgetUsageRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-budget-usage-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    app.get(
      '/budgets/:id/usage',
      {
        schema: {
          summary: 'Current-period spend for a budget',
          tags: [budgetDef.plural],
          params: z.object({ id: z.string() }),
          querystring: ownerQuery, // budget ids are unique per tenant
          response: { 200: usageSchema },
        },
      },
      async (req) => {
        // the service returns the definition's output, untyped at its generic boundary
        const b = (await service.get(callContext(req), budgetDef, targetOf(req))) as unknown as BudgetState;
        return budgetUsage(gw.db, b);
      },
    );
  },
);
