import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Gateway } from '../gateway';
import { budget as budgetDef } from '../resources';
import { budgetUsage, type BudgetLike } from '../budgets/spend';
import type { ResourceService } from './resource-service';
import { callContext } from './request-state';

const usageSchema = z.object({
  budget_id: z.string(), period_start: z.string(), period_end: z.string(), spent_usd: z.number(), limit_usd: z.number(),
  remaining_usd: z.number(), percent_used: z.number(), exceeded: z.boolean(),
});

/** `GET /budgets/{id}/usage`: who may read the budget may read its spend. */
export function registerBudgetUsage(app: FastifyInstance, gw: Gateway, service: ResourceService): void {
  app.get('/budgets/:id/usage', { config: { openapi: { tag: 'Budgets', summary: 'Current-period spend for a budget', responses: { 200: usageSchema } } } }, async (req) => {
    const b = (await service.get(callContext(req), budgetDef, (req.params as { id: string }).id)) as unknown as BudgetLike;
    return budgetUsage(gw.db, b);
  });
}
