import type { StoredResource } from '../store/resource-store';
import type { Tx } from '../store/schema';

/**
 * A kind's own check of a new state, inside the write's transaction, before it is stored: for instance, a policy that
 * is or stays ACTIVE must not contradict another ACTIVE one. Registered by the module that owns the rule, so the
 * generic resource service knows no kind's rules.
 */
export type WriteCheck = (t: Tx, row: StoredResource, data: Record<string, unknown>) => Promise<void>;

const checks = new Map<string, WriteCheck>();

/** Registers the check every update and rollback of `kind` runs on its new state. */
export function checkWritesOf(kind: string, check: WriteCheck): void {
  checks.set(kind, check);
}

/** Whether writes of `kind` have a check of their own (then they are made in a transaction, where it runs). */
export const hasWriteCheck = (kind: string): boolean => checks.has(kind);

/** Runs the check of the row's kind, if it has one (it throws to refuse the write). */
export async function runWriteCheck(t: Tx, row: StoredResource, data: Record<string, unknown>): Promise<void> {
  await checks.get(row.kind)?.(t, row, data);
}
