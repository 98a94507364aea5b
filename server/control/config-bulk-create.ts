import { ApiError, validationError } from '../errors';
import type { Gateway } from '../gateway';
import type { FieldChanges } from '../lib/diff';
import { RESOURCES, type ResourceDefinition } from '../resources';
import { hasTenantField } from '../resources/schemas';
import * as batches from '../store/resource-batches';
import * as store from '../store/resource-store';
import type { NewResource, StoredResource } from '../store/resource-store';
import type { Tx } from '../store/schema';
import { lockTextsUntilTransactionEnds } from '../store/transaction-lock';
import * as versions from '../store/version-store';
import { actorOf, type CallContext } from './caller';
import type { CallerScope } from './caller-scope';
import type { Step } from './config-diff';
import { ClaimIndex } from './path-claims';
import { newId } from './resource-ids';
import { resourceEvent } from './resource-events';
import { checkState, ownerOfNew, parseBody } from './resource-input';

/**
 * Creates of many resources of one kind at once (config import), with the same checks and audit events as
 * ResourceService.create, but each check made against data loaded once for the whole run, then one multi-row INSERT
 * per 1,000 resources and one audit append. Kinds whose create needs more than that (a secret to seal, a unique lookup
 * value, a role to grant) are left to ResourceService.create.
 */
export const bulkCreatable = (def: ResourceDefinition): boolean => !def.secret && !def.unique && !def.grant;

/** One create checked, ready to write. */
interface Checked {
  step: Step;
  row: NewResource & { data: Record<string, unknown> };
  fields: Record<string, unknown>;
}

/** A failed step as import reports it: the step named, each detail's path under the step's place in the document. */
export function failedStep(step: Step, err: unknown): unknown {
  if (!(err instanceof ApiError) || err.status >= 500) return err;
  const details = err.details.length ? err.details : [{ path: '', message: err.message }];
  return new ApiError(
    err.code,
    `${step.op} ${step.def.kind} "${step.id}" failed: ${err.message}; nothing was written`,
    details.map((d) => ({ path: d.path ? `${step.at}.${d.path}` : step.at, message: d.message })),
  );
}

/** Creates every step (all creates of `def`, in order) inside `tx`; throws the first failure as import reports it. */
export async function createInBulk(
  tx: Tx,
  gw: Gateway,
  scope: CallerScope,
  ctx: CallContext,
  def: ResourceDefinition,
  steps: Step[],
): Promise<void> {
  const checked: Checked[] = [];
  // as fieldsOf picks them; the defaults of computed fields hold no clock or randomness, so one parse serves all
  const run: RunShape = { def, fieldKeys: Object.keys(def.fields.shape), computed: def.computed.parse({}) };
  for (const step of steps) {
    try {
      checked.push(await checkInput(scope, ctx, run, step));
    } catch (err) {
      throw failedStep(step, err);
    }
  }
  await checkAgainstStore(tx, def, checked);
  const stored = await batches.insertResources(
    tx,
    checked.map((c) => c.row),
  );
  const inserted = new Set(stored.map((row) => `${row.tenant_id ?? ''} ${row.id}`));
  const now = new Date().toISOString();
  const rows: StoredResource[] = [];
  for (const c of checked) {
    if (!inserted.has(`${c.row.tenant_id ?? ''} ${c.row.id}`)) {
      const err = new ApiError('ALREADY_EXISTS', `${def.title} "${c.row.id}" already exists`, [
        { path: 'id', message: 'is taken' },
      ]);
      throw failedStep(c.step, err);
    }
    rows.push({ ...c.row, secret: null, version: 1, created_at: now, updated_at: now });
  }
  const actor = actorOf(ctx.caller);
  if (def.versioned)
    await versions.recordFirstVersions(
      tx,
      rows.map((row, i) => ({ key: row, config: checked[i]!.fields })),
      actor,
    );
  const events = rows.map((row, i) =>
    resourceEvent(ctx, def, def.audit.created, row, createdFields(checked[i]!.row.data)),
  );
  await gw.audit.append(tx, events);
}

/** What ResourceService.create checks before touching the database: scope, role, body, owner, cross-field rules. */
async function checkInput(scope: CallerScope, ctx: CallContext, run: RunShape, step: Step): Promise<Checked> {
  const { def } = run;
  const body = step.item!;
  await scope.checkNamedTenants(ctx, def, { body });
  scope.authorize(ctx, def, 'write');
  // the document's parse ran the same create schema on this item (config-document.ts); only a kind with create-only
  // rules on the body (a date that must be in the future) needs parseBody again
  const parsed = def.futureOnCreate?.length ? parseBody(def, body, 'create') : body;
  const tenantId = ownerOfNew(ctx, def, parsed);
  if (hasTenantField(def)) await scope.assertTenant(ctx, tenantId);
  if (def.scope === 'tenant-self') await scope.assertTenant(ctx, parsed.id as string, 'id');
  const fields: Record<string, unknown> = {};
  for (const key of run.fieldKeys) fields[key] = parsed[key];
  checkState(def, { ...fields, tenant_id: tenantId });
  const id = (parsed.id as string | undefined) ?? newId(def);
  const data = { ...fields, ...run.computed };
  return { step, row: { kind: def.kind, id, tenant_id: tenantId, data, lookup: null }, fields };
}

/** What every item of a run shares, worked out once: the kind's field names and its computed fields' defaults. */
interface RunShape {
  def: ResourceDefinition;
  fieldKeys: string[];
  computed: Record<string, unknown>;
}

/**
 * The checks that read the database, each from one load for the whole run: ids free (locked per id, as a single
 * create locks), owners existing, references existing (locked until commit), path claims free.
 */
async function checkAgainstStore(tx: Tx, def: ResourceDefinition, checked: Checked[]): Promise<void> {
  const ids = checked.map((c) => c.row.id);
  const idsChecked = hasTenantField(def) && def.nullTenant !== 'platform-only';
  if (idsChecked)
    await lockTextsUntilTransactionEnds(
      tx,
      ids.map((id) => `id:${def.kind}:${id}`),
    );
  const sameIds = idsChecked ? await batches.resourcesWithIds(tx, def.kind, ids) : [];
  const owners = new Set(checked.map((c) => c.row.tenant_id).filter((t): t is string => t !== null));
  const tenants = new Set((await batches.resourcesWithIds(tx, 'tenant', [...owners])).map((t) => t.id));
  const targets = await referenceTargets(tx, def, checked);
  const claims = def.claims ? new ClaimIndex(def.claims.field) : undefined;
  if (claims)
    for (const row of await store.allResources(tx, def.kind)) claims.add(row.tenant_id, row.data[def.claims!.field]);
  // ids this run has taken, global or per tenant, so two of its own items clash as two creates would
  const holders = new Map<string, (string | null)[]>();
  for (const r of sameIds) holders.set(r.id, [...(holders.get(r.id) ?? []), r.tenant_id]);
  for (const c of checked) {
    const { id, tenant_id: tenantId } = c.row;
    try {
      if (idsChecked) {
        const clash = (holders.get(id) ?? []).find((t) => (tenantId === null) !== (t === null));
        if (clash !== undefined) {
          const holder = clash === null ? 'A global' : `Tenant "${clash}" has a`;
          const message = `${holder} ${def.title.toLowerCase()} "${id}" exists, and both would be in one tenant's view; choose another id`;
          throw new ApiError('ALREADY_EXISTS', message, [{ path: 'id', message: 'is taken' }]);
        }
        holders.set(id, [...(holders.get(id) ?? []), tenantId]);
      }
      if (tenantId !== null && !tenants.has(tenantId))
        throw validationError([{ path: 'tenant_id', message: `no tenant "${tenantId}" exists` }]);
      assertReferences(def, c.fields, tenantId, targets);
      claims?.claim(tenantId, c.fields);
    } catch (err) {
      throw failedStep(c.step, err);
    }
  }
}

/** Resources named by reference fields: kind → id → every owner's resource with that id. */
type Targets = Map<string, Map<string, StoredResource[]>>;

/** The resources the run's reference fields name, by kind, locked so a concurrent delete waits for the commit. */
async function referenceTargets(tx: Tx, def: ResourceDefinition, checked: Checked[]) {
  const targets: Targets = new Map();
  for (const [field, kind] of Object.entries(def.references ?? {})) {
    const ids = checked.map((c) => c.fields[field]).filter((v): v is string => typeof v === 'string');
    const byId = targets.get(kind) ?? new Map<string, StoredResource[]>();
    for (const row of await batches.resourcesWithIds(tx, kind, ids, true))
      byId.set(row.id, [...(byId.get(row.id) ?? []), row]);
    targets.set(kind, byId);
  }
  return targets;
}

/** As assertReferencesExist: each named resource is the owner's own, or a global one. */
function assertReferences(
  def: ResourceDefinition,
  fields: Record<string, unknown>,
  tenantId: string | null,
  targets: Targets,
): void {
  for (const [field, kind] of Object.entries(def.references ?? {})) {
    const id = fields[field];
    if (typeof id !== 'string') continue;
    const found = (targets.get(kind)?.get(id) ?? []).some(
      (r) => r.id === id && (r.tenant_id === null || (tenantId !== null && r.tenant_id === tenantId)),
    );
    if (found) continue;
    const platformWide = RESOURCES.find((r) => r.kind === kind)?.scope === 'platform';
    const where = tenantId && !platformWide ? ` in tenant "${tenantId}"` : '';
    throw validationError([{ path: field, message: `no ${kind} "${id}" exists${where}` }]);
  }
}

/** A create's changes: every field set, from null (what `diffFields({}, data)` gives, without comparing JSON). */
function createdFields(data: Record<string, unknown>): FieldChanges {
  const changes: FieldChanges = {};
  for (const [key, value] of Object.entries(data))
    if (value !== undefined && value !== null) changes[key] = { from: null, to: value };
  return changes;
}
