import type { BudgetState } from '../resources';

/** A budget's period: spend resets at the start of each UTC day, ISO week or calendar month. */
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
