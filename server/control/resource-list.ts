import { validationError } from '../errors';
import type { ResourceDefinition } from '../resources/define';
import { hasTenantField } from '../resources/schemas';
import * as store from '../store/resource-store';
import type { StoredResource } from '../store/resource-store';
import type { Executor } from '../store/schema';
import type { CallContext } from './caller';
import type { CallerScope } from './caller-scope';
import { decodeIdCursor, encodeIdCursor } from './time-page';

/** A resource as GET returns it. */
export type PublicResource = Record<string, unknown> & { id: string };

export interface ListParams {
  tenant_id?: string;
  limit?: number;
  cursor?: string;
}

export interface Page {
  object: 'list';
  data: PublicResource[];
  next_cursor: string | null;
}

export function toPublic(def: ResourceDefinition, row: StoredResource): PublicResource {
  return {
    id: row.id,
    ...(hasTenantField(def) ? { tenant_id: row.tenant_id } : {}),
    ...row.data,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** A page of the resources of one kind the caller may see, in (id, owner) order. */
export async function listVisible(
  db: Executor,
  scope: CallerScope,
  ctx: CallContext,
  def: ResourceDefinition,
  params: ListParams,
  pathTenant?: string,
): Promise<Page> {
  // Both a path tenant and `?tenant_id=` may name a tenant: each is checked, and they must agree.
  await scope.assertTenant(ctx, pathTenant);
  await scope.assertTenant(ctx, params.tenant_id);
  if (pathTenant !== undefined && params.tenant_id !== undefined && params.tenant_id !== pathTenant) {
    throw validationError([{ path: 'tenant_id', message: 'must match the tenant in the path' }]);
  }
  const named = pathTenant ?? params.tenant_id;
  scope.authorize(ctx, def, 'read');
  const limit = params.limit ?? 50;
  const tenant = named ?? ctx.caller.tenantId ?? undefined;
  let tenants: (string | null)[] | undefined;
  let ids: string[] | undefined;
  if (tenant !== undefined) {
    if (def.scope === 'tenant-self') ids = [tenant];
    else if (def.scope === 'tenant') tenants = [tenant];
    else if (def.scope === 'tenant-optional') {
      tenants = named === undefined && def.nullTenant !== 'platform-only' ? [tenant, null] : [tenant];
    }
  }
  const after = params.cursor ? decodeIdCursor(params.cursor) : undefined;
  // Narrowed in the query, never after the page is cut (a page of others' rows would hide the caller's own).
  const rows = await store.listResources(db, def.kind, { tenants, ids, after, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const next_cursor =
    rows.length > limit && last ? encodeIdCursor({ id: last.id, owner: store.ownerOf(last.tenant_id) }) : null;
  return { object: 'list', data: page.map((r) => toPublic(def, r)), next_cursor };
}
