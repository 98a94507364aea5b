import type { Change, FieldChange } from '../server/control/config-diff';
import type { ImportResult } from '../server/control/config-sync';

export interface Paint {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

/** ANSI colors on a terminal, unless NO_COLOR is set (https://no-color.org); plain text otherwise. */
export function paintFor(stream: { isTTY?: boolean }, env = process.env): Paint {
  const on = stream.isTTY === true && !env.NO_COLOR;
  const code = (n: number) => (s: string) => (on ? `\x1b[${n}m${s}\x1b[0m` : s);
  return { green: code(32), yellow: code(33), red: code(31), bold: code(1), dim: code(2) };
}

const SIGN = { create: '+', update: '~', delete: '-' } as const;

/** A value as the plan shows it: JSON, shortened when long; a secret never. */
function shown(change: FieldChange, side: 'before' | 'after'): string {
  if (change.sensitive) return '(sensitive)';
  const value = change[side];
  if (value === undefined) return '(none)';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function fieldLine(op: Change['op'], change: FieldChange): string {
  if (op === 'create') return `${change.path}: ${shown(change, 'after')}`;
  if (op === 'delete') return `${change.path}: ${shown(change, 'before')}`;
  if (change.sensitive && change.before === null) return `${change.path}: (sensitive) (set)`;
  return `${change.path}: ${shown(change, 'before')} → ${shown(change, 'after')}`;
}

/** Counts as the plan's summary line says them. */
export function countsOf(result: ImportResult) {
  return { create: result.created.length, update: result.updated.length, delete: result.deleted.length };
}

/** Whether applying the plan would write anything. */
export const hasChanges = (result: ImportResult) => {
  const c = countsOf(result);
  return c.create + c.update + c.delete > 0;
};

/**
 * The plan as text: changes grouped by kind in apply order (`+` create, `~` update old → new, `-` delete), fields
 * indented under each, skipped entries and warnings, then one summary line. Deletes list no fields (only the id).
 */
export function renderPlan(result: ImportResult, paint: Paint): string {
  const color = { create: paint.green, update: paint.yellow, delete: paint.red };
  const lines: string[] = [];
  // grouped by kind, kinds in apply order (a kind's deletes come last in the apply, but show with its kind)
  const byKind = new Map<string, Change[]>();
  for (const change of result.changes ?? []) byKind.set(change.kind, [...(byKind.get(change.kind) ?? []), change]);
  for (const [kind, changes] of byKind) {
    lines.push('', paint.bold(`${kind}:`));
    for (const change of changes) {
      const owner = change.tenant_id ? `${change.tenant_id}/` : '';
      lines.push(color[change.op](`  ${SIGN[change.op]} ${change.kind} ${owner}${change.id}`));
      if (change.op === 'delete') continue;
      for (const field of change.changes) lines.push(color[change.op](`      ${fieldLine(change.op, field)}`));
    }
  }
  for (const skipped of result.skipped) lines.push(paint.dim(`  skipped: ${skipped.kind} ${skipped.id}`));
  if (result.warnings.length) lines.push('', ...result.warnings.map((w) => paint.dim(`warning: ${w}`)));
  const c = countsOf(result);
  lines.push(
    '',
    hasChanges(result)
      ? paint.bold(
          `Plan: ${c.create} to create, ${c.update} to update, ${c.delete} to delete, ${result.unchanged} unchanged` +
            (result.skipped.length ? `, ${result.skipped.length} skipped.` : '.'),
        )
      : paint.bold(`No changes. The gateway matches the input (${result.unchanged} unchanged).`),
  );
  return lines.join('\n').replace(/^\n/, '') + '\n';
}
