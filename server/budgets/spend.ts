import type { BudgetState } from '../resources';
import type { Executor } from '../store/schema';
import { spendInWindows } from '../store/usage-records';
import { periodBounds } from './periods';

/** What spend is counted by: the budget's owner, its key (if any) and its period. */
export type BudgetScope = Pick<BudgetState, 'id' | 'tenant_id' | 'api_key_id' | 'period'>;

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
 * however many budgets there are; by budget (two tenants' budgets may share an id).
 */
export async function budgetSpends<B extends BudgetScope>(
  db: Executor,
  budgets: readonly B[],
  at = new Date(),
): Promise<Map<B, number>> {
  const windows = budgets.map((b) => ({
    tenant_id: b.tenant_id,
    api_key_id: b.api_key_id,
    ...periodBounds(b.period, at),
  }));
  const spent = await spendInWindows(db, windows);
  return new Map(budgets.map((b, i) => [b, spent[i]!]));
}

/** Spend in the budget's current period against its limit. */
export async function budgetUsage(
  db: Executor,
  b: BudgetScope & Pick<BudgetState, 'limit_usd'>,
  at = new Date(),
): Promise<BudgetUsage> {
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
