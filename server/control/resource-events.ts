import type { FieldChanges } from '../lib/diff';
import type { ResourceDefinition } from '../resources/define';
import type { StoredResource } from '../store/resource-store';
import { actorOf, type CallContext } from './caller';

/** The audit event of a change to one resource (a tenant's own changes are filed under the tenant). */
export function resourceEvent(
  ctx: CallContext,
  def: ResourceDefinition,
  type: string,
  row: StoredResource,
  changes: FieldChanges,
) {
  const tenantId = def.scope === 'tenant-self' ? row.id : row.tenant_id;
  const resource = { kind: def.kind, id: row.id };
  return { type, actor: actorOf(ctx.caller), tenant_id: tenantId, resource, changes, trace_id: ctx.traceId ?? null };
}
