import type { Executor } from '../store/schema';
import { spendInWindows } from '../store/usage-records';
import { periodBounds, type Period } from './periods';

/** What the spend of a budget depends on (the admin API and the data plane's tracker both read it). */
export interface BudgetLike {
  id: string;
  tenant_id: string;
  api_key_id: string | null;
  period: Period;
  limit_usd: number;
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

/**
 * Spend in each budget's current period, summed from usage records (the tenant's, or one key's), in one query
 * however many budgets there are.
 */
export function budgetSpends(
  db: Executor,
  budgets: readonly BudgetLike[],
  at = new Date(),
): Promise<Map<string, number>> {
  return spendInWindows(
    db,
    budgets.map((b) => ({ id: b.id, tenant_id: b.tenant_id, api_key_id: b.api_key_id, ...periodBounds(b.period, at) })),
  );
}

/** Spend in the budget's current period against its limit. */
export async function budgetUsage(db: Executor, b: BudgetLike, at = new Date()): Promise<BudgetUsage> {
  const { start, end } = periodBounds(b.period, at);
  const spent = (await budgetSpends(db, [b], at)).get(b.id) ?? 0;
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
