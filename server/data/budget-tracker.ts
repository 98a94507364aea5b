import { periodBounds } from '../budgets/periods';
import { budgetSpends } from '../budgets/spend';
import { budget as budgetDef, type BudgetState } from '../resources';
import type { ConfigSnapshot } from '../store/snapshot';
import type { Db } from '../store/schema';

/**
 * Spend per budget for its current period, held in memory so the hot path never queries: loaded from usage records,
 * increased by every call this instance records, and re-read from the database periodically (other instances' spend).
 */
/** A budget's key in the tracker: its owner and id (two tenants' budgets may share an id). */
const keyOf = (b: BudgetState) => `${b.tenant_id}/${b.id}`;

export class BudgetTracker {
  /** Spend by `keyOf` budget. */
  private spent = new Map<string, { periodStart: number; usd: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly snapshot: ConfigSnapshot,
    private readonly refreshMs = 5000,
  ) {}

  async start(): Promise<void> {
    this.snapshot.on(
      'change',
      (kind: string, id: string) => kind === budgetDef.kind && void this.refreshOne(id).catch(() => {}),
    );
    this.snapshot.on('reload', () => void this.refresh().catch(() => {}));
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => {}), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Re-reads every budget's spend, in one query. */
  async refresh(): Promise<void> {
    const budgets = this.snapshot.all('budget');
    const at = new Date();
    this.note(await budgetSpends(this.db, budgets, at), at);
    const live = new Set(budgets.map(keyOf));
    for (const key of this.spent.keys()) if (!live.has(key)) this.spent.delete(key);
  }

  /** Re-reads the spend of the budgets with this id (one was created, changed or deleted), whoever owns them. */
  async refreshOne(id: string): Promise<void> {
    const budgets = this.snapshot.all('budget').filter((b) => b.id === id);
    const live = new Set(budgets.map(keyOf));
    for (const key of this.spent.keys()) if (key.endsWith(`/${id}`) && !live.has(key)) this.spent.delete(key);
    const at = new Date();
    this.note(await budgetSpends(this.db, budgets, at), at);
  }

  private note(spends: Map<BudgetState, number>, at: Date): void {
    for (const [b, stored] of spends) {
      const periodStart = periodBounds(b.period, at).start.getTime();
      const known = this.spent.get(keyOf(b));
      // Within a period spend only grows; what this instance recorded may not be flushed to the database yet.
      this.spent.set(keyOf(b), {
        periodStart,
        usd: known && known.periodStart === periodStart ? Math.max(known.usd, stored) : stored,
      });
    }
  }

  /** Budgets that apply to a call by this key: the tenant's, and the key's own. */
  budgetsFor(tenantId: string, keyId: string): BudgetState[] {
    return this.snapshot.ownedBy('budget', tenantId).filter((b) => b.api_key_id === null || b.api_key_id === keyId);
  }

  spentOn(b: BudgetState, now = new Date()): number {
    const start = periodBounds(b.period, now).start.getTime();
    const entry = this.spent.get(keyOf(b));
    return entry && entry.periodStart === start ? entry.usd : 0;
  }

  /** Adds a call's cost; returns the percentages it crossed, per budget (for BUDGET_THRESHOLD_CROSSED). */
  record(
    tenantId: string,
    keyId: string,
    costUsd: number,
    now = new Date(),
  ): { budget: BudgetState; crossed: number[] }[] {
    const crossings: { budget: BudgetState; crossed: number[] }[] = [];
    for (const b of this.budgetsFor(tenantId, keyId)) {
      const start = periodBounds(b.period, now).start.getTime();
      const before = this.spentOn(b, now);
      const after = before + costUsd;
      this.spent.set(keyOf(b), { periodStart: start, usd: after });
      const limit = b.limit_usd;
      const crossed = b.alert_thresholds.filter((p) => (before / limit) * 100 < p && (after / limit) * 100 >= p);
      if (crossed.length) crossings.push({ budget: b, crossed });
    }
    return crossings;
  }
}
