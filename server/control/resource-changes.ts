import type { AuditEntry } from '../audit/audit-log';
import { ApiError, validationError } from '../errors';
import { canonicalJson } from '../lib/canonical-json';
import { diffFields } from '../lib/diff';
import type { ActionDefinition, ResourceDefinition } from '../resources/define';
import { updatedEventType } from '../resources/events';
import type { StoredResource } from '../store/resource-store';
import type { CallContext } from './caller';
import { resourceEvent } from './resource-events';
import { checkState } from './resource-input';
import { withSecretChange, type Sealed } from './secret-seal';

/**
 * What an update or an action makes of a resource as read: its new data and the audit events that tell of it. Pure,
 * so a write made in one statement and one made in a transaction (see one-statement-writes.ts) decide alike.
 */

/** A resource's new data and the events describing the change. */
export interface Change {
  data: Record<string, unknown>;
  events: AuditEntry[];
}

/** What an update may not do to `row`, whatever else holds: move it to another tenant, change what is immutable. */
export function checkUpdate(
  def: ResourceDefinition,
  row: StoredResource,
  parsed: Record<string, unknown>,
  fields: Record<string, unknown>,
): void {
  if (parsed.tenant_id !== undefined && parsed.tenant_id !== row.tenant_id) {
    throw validationError([{ path: 'tenant_id', message: 'cannot change; create a new resource instead' }]);
  }
  const immutable = (def.immutable ?? []).filter((f) => canonicalJson(fields[f]) !== canonicalJson(row.data[f]));
  if (immutable.length) {
    throw validationError(immutable.map((f) => ({ path: f, message: 'cannot change; create a new resource instead' })));
  }
  checkState(def, { ...fields, tenant_id: row.tenant_id });
}

/** An update of `row` with `fields` (and a new secret): undefined when it changes nothing. */
export function updateOf(
  ctx: CallContext,
  def: ResourceDefinition,
  row: StoredResource,
  fields: Record<string, unknown>,
  sealed: Sealed | undefined,
): Change | undefined {
  const data = { ...row.data, ...fields, ...sealed?.data };
  const changes = diffFields(row.data, data);
  if (!Object.keys(changes).length && !sealed) return undefined;
  const events = [resourceEvent(ctx, def, updatedEventType(def), row, withSecretChange(def, changes, !!sealed))];
  for (const [field, type] of Object.entries(def.audit.fieldEvents ?? {})) {
    if (field in changes) events.push(resourceEvent(ctx, def, type, row, { [field]: changes[field] }));
  }
  return { data, events };
}

/** The action `name` on `row`; 409 when the row is not in a state the action applies to. */
export function actionOf(
  ctx: CallContext,
  def: ResourceDefinition,
  row: StoredResource,
  name: string,
  action: ActionDefinition,
  sealed: Sealed | undefined,
): Change {
  if (action.when && !action.when.in.includes(row.data[action.when.field])) {
    const now = String(row.data[action.when.field]);
    const needs = `${action.when.field} ${action.when.in.join(' or ')}`;
    throw new ApiError('CONFLICT', `${def.title} "${row.id}" is ${now}; "${name}" needs ${needs}`);
  }
  const set = Object.fromEntries(
    Object.entries(action.set).map(([k, v]) => [k, v === 'now' ? new Date().toISOString() : v]),
  );
  const data = { ...row.data, ...set, ...sealed?.data };
  const changes = withSecretChange(def, diffFields(row.data, data), !!sealed);
  return { data, events: [resourceEvent(ctx, def, action.audit, row, changes)] };
}
