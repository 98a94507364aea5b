import type { Gateway } from '../gateway';
import { diffFields } from '../lib/diff';
import type { ResourceDefinition } from '../resources/define';
import type { AppendPart } from '../store/append-hook';
import * as store from '../store/resource-store';
import type { CallContext } from './caller';
import { idTaken, idsShareViews, uniqueValues } from './resource-ids';
import { resourceEvent } from './resource-events';

/**
 * Whether a create of `def` owned by `tenantId` can be one statement ({@link createInOneStatement}): it has no checks
 * to make inside its transaction (the steps of ResourceService.create's transaction, each a no-op otherwise: the
 * owner tenant to find, the id against global ones, claims, references, a first version to record), and nothing
 * riding on the audit append reads its kind (the outbox reads webhooks: one must see its own creation).
 */
function createsInOneStatement(gw: Gateway, def: ResourceDefinition, tenantId: string | null): boolean {
  const references = Object.keys(def.references ?? {}).length > 0;
  const checks = tenantId !== null || idsShareViews(def) || !!def.claims || references || !!def.versioned;
  return !checks && !gw.audit.partsRead(def.kind);
}

/**
 * A create with nothing to check in the database: its INSERT rides on the statement that appends its audit event,
 * one statement that is its own transaction (no BEGIN, no COMMIT). A taken id or unique value refuses the whole
 * statement (409). Undefined, with nothing written, when the create cannot be one statement or the audit chain's head
 * is not where this process predicted it: the caller then creates in a transaction.
 */
export async function createInOneStatement(
  gw: Gateway,
  ctx: CallContext,
  def: ResourceDefinition,
  record: store.NewResource,
): Promise<store.StoredResource | undefined> {
  if (!createsInOneStatement(gw, def, record.tenant_id)) return undefined;
  const now = new Date().toISOString();
  const row = { ...record, secret: record.secret ?? null, version: 1, created_at: now, updated_at: now };
  const event = resourceEvent(ctx, def, def.audit.created, row, diffFields({}, record.data));
  const insert: AppendPart = {
    statement: (_events, when) => store.insertResourceWhen({ ...record, created_at: now }, when),
  };
  const events = await uniqueValues(def, () =>
    gw.audit.appendWith(gw.db, [event], insert).catch((err) => {
      throw (err as { constraint?: string }).constraint === store.RESOURCE_KEY ? idTaken(def, record.id) : err;
    }),
  );
  return events && row;
}
