import type { AuditEntry } from '../audit/audit-log';
import type { Gateway } from '../gateway';
import { diffFields } from '../lib/diff';
import type { ResourceDefinition } from '../resources/define';
import type { AppendPart } from '../store/append-hook';
import * as riding from '../store/resource-riding';
import * as store from '../store/resource-store';
import type { CallContext } from './caller';
import { isNameable } from './referrers';
import type { Change } from './resource-changes';
import { fieldsOf } from './resource-input';
import { idTaken, idsShareViews, uniqueValues } from './resource-ids';
import { resourceEvent } from './resource-events';
import { hasWriteCheck } from './write-checks';

/**
 * Writes with nothing to check in the database ride on the statement that appends their audit events: one statement
 * that is its own transaction (no BEGIN, no COMMIT), instead of a transaction of four or five. A create inserts where
 * its owner tenant exists (a taken id or unique value refuses the whole statement); an update, an action or a delete
 * reads the resource first and changes it only if it is still as read (see riding.stillAsRead). Each function returns
 * undefined, with nothing written, when the write cannot be one statement, the resource changed meanwhile or the audit
 * chain's head is not where this process predicted it: the caller then makes the write in a transaction, as any other.
 */

/**
 * Whether a write of `def` can ride on the append at all: nothing riding on every append reads its kind (the webhook
 * outbox reads webhooks: one must see its own creation, and not its own deletion), and it has no versions to record.
 */
const ridesOnAppend = (gw: Gateway, def: ResourceDefinition): boolean =>
  !def.versioned && !gw.audit.partsRead(def.kind);

/** Whether any of `fields` names another resource (which would have to be found, and locked). */
const namesAnother = (def: ResourceDefinition, fields: Record<string, unknown>): boolean =>
  Object.keys(def.references ?? {}).some((field) => typeof fields[field] === 'string');

/**
 * A create of `fields` has nothing to check beyond its owner tenant when each other step of ResourceService.create's
 * transaction is a no-op: no global id to compare with, no claims, no field naming another resource. Its owner tenant
 * is its statement's precondition.
 */
const createsInOneStatement = (gw: Gateway, def: ResourceDefinition, fields: Record<string, unknown>): boolean =>
  !idsShareViews(def) && !def.claims && !namesAnother(def, fields) && ridesOnAppend(gw, def);

/** An update or action setting `fields` has nothing to check when its kind has no claims and no write check either. */
export const changesInOneStatement = (gw: Gateway, def: ResourceDefinition, fields: Record<string, unknown>) =>
  !def.claims && !hasWriteCheck(def.kind) && !namesAnother(def, fields) && ridesOnAppend(gw, def);

/** A delete has nothing to check when nothing may name its kind and it owns nothing (a tenant owns its resources). */
export const deletesInOneStatement = (gw: Gateway, def: ResourceDefinition): boolean =>
  def.scope !== 'tenant-self' && !isNameable(def.kind) && ridesOnAppend(gw, def);

/** A create, if it has nothing to check (a taken id or unique value: 409, nothing written; no owner: undefined). */
export async function createInOneStatement(
  gw: Gateway,
  ctx: CallContext,
  def: ResourceDefinition,
  record: store.NewResource,
): Promise<store.StoredResource | undefined> {
  if (!createsInOneStatement(gw, def, record.data)) return undefined;
  const now = new Date().toISOString();
  const row = { ...record, secret: record.secret ?? null, version: 1, created_at: now, updated_at: now };
  const event = resourceEvent(ctx, def, def.audit.created, row, diffFields({}, record.data));
  const insert: AppendPart = {
    row: riding.rowName(record),
    precondition: record.tenant_id === null ? undefined : riding.tenantStands(record.tenant_id),
    statement: (_events, when) => riding.insertResourceWhen({ ...record, created_at: now }, when),
  };
  const events = await uniqueValues(def, () =>
    gw.audit.appendWith(gw.db, [event], insert).catch((err) => {
      throw (err as { constraint?: string }).constraint === store.RESOURCE_KEY ? idTaken(def, record.id) : err;
    }),
  );
  return events && row;
}

/**
 * `row` changed as `next` says (an update or an action, checked by the caller), with a new sealed secret if given, if
 * it is still as read. The caller has asked {@link changesInOneStatement}.
 */
export async function changeInOneStatement(
  gw: Gateway,
  def: ResourceDefinition,
  row: store.StoredResource,
  next: Change,
  secret?: string,
): Promise<store.StoredResource | undefined> {
  const updated_at = new Date().toISOString();
  const lookup = def.unique ? def.unique(fieldsOf(def, next.data) as never) : undefined;
  const update: AppendPart = {
    row: riding.rowName(row),
    precondition: riding.stillAsRead(row),
    statement: (_events, when) => riding.updateResourceWhen(row, { data: next.data, secret, lookup, updated_at }, when),
  };
  const events = await uniqueValues(def, () => gw.audit.appendWith(gw.db, next.events, update));
  return events && { ...row, data: next.data, secret: secret ?? row.secret, updated_at };
}

/**
 * Deletes `row` if it is still as read; false when nothing was written. The caller has asked
 * {@link deletesInOneStatement}.
 */
export async function deleteInOneStatement(
  gw: Gateway,
  row: store.StoredResource,
  entries: AuditEntry[],
): Promise<boolean> {
  const remove: AppendPart = {
    row: riding.rowName(row),
    precondition: riding.stillAsRead(row),
    statement: (_events, when) => riding.deleteResourceWhen(row, when),
  };
  return (await gw.audit.appendWith(gw.db, entries, remove)) !== undefined;
}
