import { sql, type Selectable } from 'kysely';
import type { Executor, UsageRecordTable } from './schema';
import { inTimeRange, newestFirst, type TimePage, type TimePageOf, type TimeRange } from './time-list';

/** Token usage records, one per LLM call (written by the data plane's batch writer), as the admin API reads them. */

export type UsageRecord = Selectable<UsageRecordTable>;

export interface UsageFilter extends TimeRange {
  tenant_id?: string;
  api_key_id?: string;
  model?: string;
}

/** Usage totals of one (provider, model). */
export interface UsageGroup {
  provider: string | null;
  model: string | null;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

/** A budget's period, whose spend {@link spendInWindows} sums: the tenant's usage, or one key's. */
export interface SpendWindow {
  tenant_id: string;
  api_key_id: string | null;
  start: Date;
  end: Date;
}

function filtered(db: Executor, f: UsageFilter) {
  let query = db.selectFrom('usage_records');
  if (f.tenant_id) query = query.where('tenant_id', '=', f.tenant_id);
  if (f.api_key_id) query = query.where('api_key_id', '=', f.api_key_id);
  if (f.model) query = query.where('model', '=', f.model);
  return inTimeRange(query, 'created_at', f);
}

/** One page of records, newest first. */
export async function listUsageRecords(db: Executor, f: UsageFilter, page: TimePage): Promise<TimePageOf<UsageRecord>> {
  const { rows, next } = await newestFirst(filtered(db, f).selectAll(), 'created_at', page);
  return { rows: rows.map((r) => ({ ...r, cost_usd: Number(r.cost_usd) })), next }; // numeric arrives as text
}

/** Totals by provider and model, in that order. */
export async function summarizeUsage(db: Executor, f: UsageFilter): Promise<UsageGroup[]> {
  const rows = await filtered(db, f)
    .select(['provider', 'model'])
    .select((eb) => [
      eb.fn.countAll<number>().as('calls'),
      eb.fn.coalesce(eb.fn.sum<number>('input_tokens'), sql<number>`0`).as('input_tokens'),
      eb.fn.coalesce(eb.fn.sum<number>('output_tokens'), sql<number>`0`).as('output_tokens'),
      eb.fn.coalesce(eb.fn.sum<number>('cost_usd'), sql<number>`0`).as('cost_usd'),
    ])
    .groupBy(['provider', 'model'])
    .orderBy('provider')
    .orderBy('model')
    .execute();
  // counts and sums arrive as text (bigint, numeric) on PostgreSQL
  return rows.map((r) => ({
    provider: r.provider,
    model: r.model,
    calls: Number(r.calls),
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cost_usd: Number(r.cost_usd),
  }));
}

/** Spend (USD) in each window, in window order, in one query however many windows there are. */
export async function spendInWindows(db: Executor, windows: readonly SpendWindow[]): Promise<number[]> {
  if (!windows.length) return [];
  const column = <K extends keyof SpendWindow>(key: K) => windows.map((w) => w[key]);
  // By position, not id: two tenants' budgets may share an id.
  const { rows } = await sql<{ n: number; spent: number }>`
    select b.n, coalesce(sum(u.cost_usd), 0) as spent
    from unnest(${column('tenant_id')}::text[], ${column('api_key_id')}::text[],
                ${windows.map((w) => w.start.toISOString())}::timestamptz[], ${windows.map((w) => w.end.toISOString())}::timestamptz[])
      with ordinality as b(tenant_id, api_key_id, period_start, period_end, n)
    left join usage_records u on u.tenant_id = b.tenant_id and (b.api_key_id is null or u.api_key_id = b.api_key_id)
      and u.created_at >= b.period_start and u.created_at < b.period_end
    group by b.n`.execute(db);
  const spent = windows.map(() => 0);
  for (const r of rows) spent[Number(r.n) - 1] = Number(r.spent);
  return spent;
}
