import { ApiError, notFound, validationError } from '../errors';
import type { ResourceDefinition } from '../resources/define';
import { hasTenantField } from '../resources/schemas';
import * as store from '../store/resource-store';
import type { StoredResource } from '../store/resource-store';
import type { Executor } from '../store/schema';
import type { CallContext } from './caller';

/** Which resource a request means: its id, and the owner it names (a nested path's tenant, or `?tenant_id=`). */
export interface Target {
  id: string;
  owner?: string;
}

/** Whether the caller may see this resource at all (its tenant's, or a global one of a kind tenants see). */
function sees(ctx: CallContext, def: ResourceDefinition, row: StoredResource): boolean {
  const own = ctx.caller.tenantId;
  if (own === null || def.scope === 'tenant-self') return true;
  return row.tenant_id === null ? def.nullTenant !== 'platform-only' : row.tenant_id === own;
}

/**
 * Loads the resource a target names in the caller's view; 404 when it sees none (a foreign tenant's is not revealed).
 * Ids are unique per owner: a named owner picks one; otherwise the caller's own namespace wins (the platform's is
 * global), and several tenants' resources with no owner named are a 409. `forWrite` locks the row (inside a
 * transaction) and refuses a tenant caller's write to a global resource.
 */
export async function loadVisible(
  db: Executor,
  ctx: CallContext,
  def: ResourceDefinition,
  target: Target,
  forWrite: { lock: boolean } | false,
): Promise<StoredResource> {
  const { id, owner } = target;
  const rows = await store.resourcesWithId(db, def.kind, id, forWrite !== false && forWrite.lock);
  const visible = rows.filter((r) => (owner === undefined || r.tenant_id === owner) && sees(ctx, def, r));
  if (!visible.length) throw notFound(`${def.title} "${id}"`);
  const row = visible.length === 1 ? visible[0] : visible.find((r) => r.tenant_id === ctx.caller.tenantId);
  if (!row) {
    const message = `${visible.length} tenants have a ${def.title.toLowerCase()} "${id}"; name one with ?tenant_id=`;
    const details = [{ path: 'tenant_id', message: 'is needed: this id is not unique across tenants' }];
    throw new ApiError('AMBIGUOUS_ID', message, details);
  }
  if (forWrite && ctx.caller.tenantId && hasTenantField(def) && row.tenant_id === null) {
    throw new ApiError('FORBIDDEN', 'Only platform roles manage global (tenant_id null) resources');
  }
  return row;
}

/**
 * A new resource's tenant must exist: 404 when a nested path names it, else 400 at `tenant_id`. Held (see
 * store.holdTenant) until the transaction ends, so that a delete of the tenant cannot miss what it makes.
 */
export async function requireTenant(db: Executor, tenantId: string, nested: boolean): Promise<void> {
  if (await store.holdTenant(db, tenantId)) return;
  if (nested) throw notFound(`Tenant "${tenantId}"`);
  throw validationError([{ path: 'tenant_id', message: `no tenant "${tenantId}" exists` }]);
}
