import { periodBounds, type Period } from '../budgets/periods';
import { budgetSpends, type BudgetLike } from '../budgets/spend';
import type { ConfigSnapshot, SnapshotEntry } from '../store/snapshot';
import type { Db } from '../store/schema';

/**
 * Spend per budget for its current period, held in memory so the hot path never queries: loaded from usage records,
 * increased by every call this instance records, and re-read from the database periodically (other instances' spend).
 */
export class BudgetTracker {
  private spent = new Map<string, { periodStart: number; usd: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db, private readonly snapshot: ConfigSnapshot, private readonly refreshMs = 5000) {}

  async start(): Promise<void> {
    this.snapshot.on('change', (kind: string, id: string) => kind === 'budget' && void this.refreshOne(id).catch(() => {}));
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
    const budgets = this.snapshot.all('budget') as unknown as BudgetLike[];
    const at = new Date();
    this.note(budgets, await budgetSpends(this.db, budgets, at), at);
    const live = new Set(budgets.map((b) => b.id));
    for (const id of this.spent.keys()) if (!live.has(id)) this.spent.delete(id);
  }

  /** Re-reads one budget's spend (it was created or changed). */
  async refreshOne(id: string): Promise<void> {
    const b = this.snapshot.get('budget', id) as unknown as BudgetLike | undefined;
    if (!b) return void this.spent.delete(id);
    const at = new Date();
    this.note([b], await budgetSpends(this.db, [b], at), at);
  }

  private note(budgets: BudgetLike[], spends: Map<string, number>, at: Date): void {
    for (const b of budgets) {
      const periodStart = periodBounds(b.period, at).start.getTime();
      const stored = spends.get(b.id) ?? 0;
      const known = this.spent.get(b.id);
      // Within a period spend only grows; what this instance recorded may not be flushed to the database yet.
      this.spent.set(b.id, { periodStart, usd: known && known.periodStart === periodStart ? Math.max(known.usd, stored) : stored });
    }
  }

  /** Budgets that apply to a call by this key: the tenant's, and the key's own. */
  budgetsFor(tenantId: string, keyId: string): SnapshotEntry[] {
    const tenants = this.snapshot.memo('budgets-by-tenant', () => {
      const by = new Map<string | null, SnapshotEntry[]>();
      for (const b of this.snapshot.all('budget')) by.set(b.tenant_id, [...(by.get(b.tenant_id) ?? []), b]);
      return by;
    });
    return (tenants.get(tenantId) ?? []).filter((b) => b.api_key_id === null || b.api_key_id === keyId);
  }

  spentOn(b: SnapshotEntry, now = new Date()): number {
    const start = periodBounds(b.period as Period, now).start.getTime();
    const entry = this.spent.get(b.id);
    return entry && entry.periodStart === start ? entry.usd : 0;
  }

  /** Adds a call's cost; returns the percentages it crossed, per budget (for BUDGET_THRESHOLD_CROSSED). */
  record(tenantId: string, keyId: string, costUsd: number, now = new Date()): { budget: SnapshotEntry; crossed: number[] }[] {
    const crossings: { budget: SnapshotEntry; crossed: number[] }[] = [];
    for (const b of this.budgetsFor(tenantId, keyId)) {
      const start = periodBounds(b.period as Period, now).start.getTime();
      const before = this.spentOn(b, now);
      const after = before + costUsd;
      this.spent.set(b.id, { periodStart: start, usd: after });
      const limit = Number(b.limit_usd);
      const crossed = ((b.alert_thresholds as number[]) ?? []).filter((p) => (before / limit) * 100 < p && (after / limit) * 100 >= p);
      if (crossed.length) crossings.push({ budget: b, crossed });
    }
    return crossings;
  }
}
