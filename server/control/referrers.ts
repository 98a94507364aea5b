import { ApiError, validationError } from '../errors';
import { RESOURCES } from '../resources';
import type { ResourceDefinition } from '../resources/define';
import { referencing, resolveInTenant, type ResourceKey, type ResourceRef } from '../store/resource-store';
import type { Tx } from '../store/schema';

/** Every (definition, field) whose `references` name `kind`: who may point at a resource of that kind. */
function pointersTo(kind: string): { def: ResourceDefinition; field: string }[] {
  return RESOURCES.flatMap((def) =>
    Object.entries(def.references ?? {})
      .filter(([, target]) => target === kind)
      .map(([field]) => ({ def, field })),
  );
}

/** Whether any kind may name a resource of `kind` (then a delete looks for what still does). */
export const isNameable = (kind: string): boolean => pointersTo(kind).length > 0;

/**
 * Refuses (409) to delete a resource that others still name (a service a route sends to, a tier keys are on, a key a
 * budget caps), so nothing is left pointing at nothing and every export imports again. The count is of what the
 * caller may see (its tenant's and global resources); a tenant caller only deletes its own resources, which only its
 * own resources can name, so in practice it sees them all.
 */
export async function assertUnreferenced(
  t: Tx,
  def: ResourceDefinition,
  target: ResourceKey,
  callerTenant: string | null,
) {
  const found: ResourceRef[] = [];
  for (const { def: from, field } of pointersTo(def.kind))
    found.push(...(await referencing(t, from.kind, field, target)));
  if (!found.length) return;
  const visible = found.filter((r) => callerTenant === null || r.tenant_id === null || r.tenant_id === callerTenant);
  const counted = (kind: string, n: number) => `${n} ${kind}${n === 1 ? '' : 's'}`;
  const kinds = [...new Set(visible.map((r) => r.kind))].map((k) =>
    counted(k, visible.filter((r) => r.kind === k).length),
  );
  const what = kinds.length ? `is still named by ${kinds.join(', ')}` : 'is still in use';
  const message = `${def.title} "${target.id}" ${what}; change or delete those first`;
  throw new ApiError('CONFLICT', message, [{ path: '', message: what }]);
}

/** Top-level fields that name another resource must name one that exists, in the same tenant or global. */
export async function assertReferencesExist(
  t: Tx,
  def: ResourceDefinition,
  fields: Record<string, unknown>,
  tenantId: string | null,
) {
  for (const [field, kind] of Object.entries(def.references ?? {})) {
    const id = fields[field];
    if (typeof id !== 'string') continue;
    // Locked until commit: a concurrent delete of the target waits, then sees this resource name it (and refuses).
    if (await resolveInTenant(t, kind, id, tenantId, true)) continue;
    const platformWide = RESOURCES.find((r) => r.kind === kind)?.scope === 'platform';
    const where = tenantId && !platformWide ? ` in tenant "${tenantId}"` : '';
    throw validationError([{ path: field, message: `no ${kind} "${id}" exists${where}` }]);
  }
}
