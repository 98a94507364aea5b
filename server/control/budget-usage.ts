import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Gateway } from '../gateway';
import { budget as budgetDef, type BudgetState } from '../resources';
import type { Executor } from '../store/schema';
import type { ResourceService } from './resource-service';
import { callContext } from './request-state';

export type Period = BudgetState['period'];

/** The UTC period holding `at`: a day, an ISO week (from Monday) or a calendar month; end exclusive. */
export function periodBounds(period: Period, at: Date): { start: Date; end: Date } {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const d = at.getUTCDate();
  if (period === 'MONTHLY') return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) };
  if (period === 'DAILY') return { start: new Date(Date.UTC(y, m, d)), end: new Date(Date.UTC(y, m, d + 1)) };
  const sinceMonday = (at.getUTCDay() + 6) % 7;
  return { start: new Date(Date.UTC(y, m, d - sinceMonday)), end: new Date(Date.UTC(y, m, d - sinceMonday + 7)) };
}

export interface BudgetUsage {
  budget_id: string;
  period_start: string;
  period_end: string;
  spent_usd: number;
  limit_usd: number;
  remaining_usd: number;
  percent_used: number;
  exceeded: boolean;
}

/** What spend is counted by: the budget's owner, its key (if any) and its period. */
export type BudgetScope = Pick<BudgetState, 'id' | 'tenant_id' | 'api_key_id' | 'period'>;

/**
 * Spend in each budget's current period, summed from usage records (the tenant's, or one key's), in one query
 * however many budgets there are; by budget (two tenants' budgets may share an id).
 */
export async function budgetSpends<B extends BudgetScope>(db: Executor, budgets: readonly B[], at = new Date()): Promise<Map<B, number>> {
  if (!budgets.length) return new Map();
  const bounds = budgets.map((b) => periodBounds(b.period, at));
  const { rows } = await sql<{ n: number; spent: number }>`
    select b.n, coalesce(sum(u.cost_usd), 0) as spent
    from unnest(${budgets.map((b) => b.tenant_id)}::text[], ${budgets.map((b) => b.api_key_id)}::text[],
                ${bounds.map((p) => p.start.toISOString())}::timestamptz[], ${bounds.map((p) => p.end.toISOString())}::timestamptz[])
      with ordinality as b(tenant_id, api_key_id, period_start, period_end, n)
    left join usage_records u on u.tenant_id = b.tenant_id and (b.api_key_id is null or u.api_key_id = b.api_key_id)
      and u.created_at >= b.period_start and u.created_at < b.period_end
    group by b.n`.execute(db);
  return new Map(rows.map((r) => [budgets[Number(r.n) - 1]!, Number(r.spent)]));
}

/** Spend in the budget's current period against its limit. */
export async function budgetUsage(db: Executor, b: BudgetScope & Pick<BudgetState, 'limit_usd'>, at = new Date()): Promise<BudgetUsage> {
  const { start, end } = periodBounds(b.period, at);
  const spent = (await budgetSpends(db, [b], at)).get(b) ?? 0;
  const round = (n: number) => Math.round(n * 1e6) / 1e6;
  return {
    budget_id: b.id,
    period_start: start.toISOString(),
    period_end: end.toISOString(),
    spent_usd: round(spent),
    limit_usd: b.limit_usd,
    remaining_usd: round(Math.max(0, b.limit_usd - spent)),
    percent_used: Math.round((spent / b.limit_usd) * 10_000) / 100,
    exceeded: spent >= b.limit_usd,
  };
}

const usageSchema = z.object({
  budget_id: z.string(), period_start: z.string(), period_end: z.string(), spent_usd: z.number(), limit_usd: z.number(),
  remaining_usd: z.number(), percent_used: z.number(), exceeded: z.boolean(),
});

/** `GET /budgets/{id}/usage`: who may read the budget may read its spend. */
export function registerBudgetUsage(app: FastifyInstance, gw: Gateway, service: ResourceService): void {
  app.get('/budgets/:id/usage', { config: { openapi: { tag: budgetDef.plural, summary: 'Current-period spend for a budget', responses: { 200: usageSchema } } } }, async (req) => {
    // the service returns the definition's output, untyped at its generic boundary
    const b = (await service.get(callContext(req), budgetDef, (req.params as { id: string }).id)) as unknown as BudgetState;
    return budgetUsage(gw.db, b);
  });
}
