import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors';
import type { ResourceDefinition } from '../resources/define';
import * as store from '../store/resource-store';
import { lockTextUntilTransactionEnds } from '../store/transaction-lock';
import type { Tx } from '../store/schema';

/** A server-made id: the kind's prefix and 24 lower-case hex digits (96 random bits), a slug every surface accepts. */
export const newId = (def: ResourceDefinition) =>
  ('prefix' in def.id ? def.id.prefix : '') + randomBytes(12).toString('hex');

/**
 * Whether a kind's global and tenant resources share a tenant's view, so a new id is checked against the other: not
 * where there are no global ones (scope `tenant`) or tenants never see them (`platform-only`).
 */
export const idsShareViews = (def: ResourceDefinition) =>
  def.scope === 'tenant-optional' && def.nullTenant !== 'platform-only';

/**
 * Ids are unique per owner, so a tenant can take any id without learning whether another tenant has it. A global
 * resource of a kind tenants see shares every tenant's view, though: a global id is refused where some tenant has
 * it (the platform sees everything, so that says nothing new), and a tenant's where a global one is in its view.
 * Locked per id so two such creates cannot both pass.
 */
export async function assertIdFree(t: Tx, def: ResourceDefinition, id: string, tenantId: string | null): Promise<void> {
  if (!idsShareViews(def)) return;
  await lockTextUntilTransactionEnds(t, `id:${def.kind}:${id}`);
  const clash = (await store.resourcesWithId(t, def.kind, id)).find(
    (r) => (tenantId === null) !== (r.tenant_id === null),
  );
  if (!clash) return;
  const holder = clash.tenant_id === null ? 'A global' : `Tenant "${clash.tenant_id}" has a`;
  const message = `${holder} ${def.title.toLowerCase()} "${id}" exists, and both would be in one tenant's view; choose another id`;
  throw new ApiError('ALREADY_EXISTS', message, [{ path: 'id', message: 'is taken' }]);
}

/** Runs a write, turning a clash on the definition's `unique` value into a 409. */
export async function uniqueValues<T>(def: ResourceDefinition, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if ((err as { code?: string }).code === '23505' && def.unique) {
      const message = `Another ${def.title.toLowerCase()} already has these values`;
      throw new ApiError('ALREADY_EXISTS', message, [{ path: '', message: 'must be unique' }]);
    }
    throw err;
  }
}

/** The 409 of a create whose id its owner already has. */
export const idTaken = (def: ResourceDefinition, id: string) =>
  new ApiError('ALREADY_EXISTS', `${def.title} "${id}" already exists`, [{ path: 'id', message: 'is taken' }]);
