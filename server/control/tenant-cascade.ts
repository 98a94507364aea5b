import { ApiError } from '../errors';
import { diffFields } from '../lib/diff';
import { RESOURCES } from '../resources';
import * as store from '../store/resource-store';
import type { Tx } from '../store/schema';
import * as versions from '../store/version-store';
import type { CallContext } from './caller';
import { resourceEvent } from './resource-events';

/** A tenant's resources, deleted with it (`cascade`) or refused (409); returns their audit events. */
export async function removeOwned(t: Tx, ctx: CallContext, tenantId: string, cascade: boolean) {
  const owned = await store.ownedResources(t, tenantId);
  if (owned.length && !cascade) {
    const counts = [...new Set(owned.map((o) => o.kind))].map(
      (k) => `${owned.filter((o) => o.kind === k).length} ${k}`,
    );
    const message = `Tenant "${tenantId}" still owns ${counts.join(', ')}; delete them first or pass ?cascade=true`;
    throw new ApiError('TENANT_HAS_RESOURCES', message);
  }
  // What a tenant owns only its own resources can name, and they all go with it: no reference check for them.
  const events = [];
  for (const child of [...owned].reverse()) {
    const childDef = RESOURCES.find((r) => r.kind === child.kind);
    await store.deleteResource(t, child);
    if (childDef?.versioned) await versions.deleteVersions(t, child);
    if (childDef) events.push(resourceEvent(ctx, childDef, childDef.audit.deleted, child, diffFields(child.data, {})));
  }
  return events;
}
