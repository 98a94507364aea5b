import { canonicalJson } from './canonical-json';

/** Changed top-level fields between two states: `{field: {from, to}}`. Values compare by their JSON. */
export type FieldChanges = Record<string, { from: unknown; to: unknown }>;

export function diffFields(before: Record<string, unknown>, after: Record<string, unknown>): FieldChanges {
  const changes: FieldChanges = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const from = before[key] ?? null;
    const to = after[key] ?? null;
    if (canonicalJson(from) !== canonicalJson(to)) changes[key] = { from, to };
  }
  return changes;
}
