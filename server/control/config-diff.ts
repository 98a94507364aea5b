import type { ResourceDefinition } from '../resources';
import { creationOrder } from '../resources/order';
import type { ErrorDetail } from '../errors';
import { REDACTED, type Item } from './config-document';

/** One field that differs; `path` is dotted inside the item (`providers.1.weight`). A secret is never shown. */
export interface FieldChange {
  path: string;
  before?: unknown;
  after?: unknown;
  sensitive?: true;
}

/** One resource to create, update or delete, with its field-level changes. */
export interface Change {
  op: 'create' | 'update' | 'delete';
  kind: string;
  id: string;
  /** The owning tenant (null for a global or platform resource, and for a tenant itself). */
  tenant_id: string | null;
  changes: FieldChange[];
}

/** A change with what applying it needs: the definition, the item to write, and its path in the document. */
export interface Step extends Change {
  def: ResourceDefinition;
  at: string;
  item?: Item;
}

export interface DiffOptions {
  mode: 'merge' | 'replace';
  /** A tenant-scoped document: its items must belong to this tenant, and replace deletes only inside it. */
  scope?: string;
  /** Desired items whose secret is "***" (keep the stored one). */
  redacted?: Set<Item>;
}

export interface Diff {
  /** In apply order: creates and updates parents first, then deletes children first. */
  steps: Step[];
  unchanged: number;
  /** Why the document cannot be applied (an item outside the scope, a tenant replace would delete under its items). */
  problems: ErrorDetail[];
}

/** The tenant that owns an item, as its id is unique per owner. */
export function ownerOfItem(def: ResourceDefinition, item: Item): string | null {
  if (def.scope === 'tenant-self' || def.scope === 'platform') return null;
  return (item.tenant_id as string | null | undefined) ?? null;
}

/** Whether an item lies inside a tenant scope: the tenant itself or something it owns. */
export function inScope(def: ResourceDefinition, item: Item, scope: string): boolean {
  return def.scope === 'tenant-self' ? item.id === scope : ownerOfItem(def, item) === scope;
}

/**
 * The difference between the desired state (a parsed document) and the current one (the stored resources as
 * document items, secrets as "***"), per kind. Pure: no database, no clock. Ids are matched per owner.
 */
export function diff(
  desired: ReadonlyMap<ResourceDefinition, Item[]>,
  current: ReadonlyMap<ResourceDefinition, Item[]>,
  options: DiffOptions,
): Diff {
  const { mode, scope } = options;
  const order = creationOrder([...new Set([...desired.keys(), ...current.keys()])]);
  const writes: Step[] = [];
  const deletes: Step[] = [];
  const problems: ErrorDetail[] = [];
  let unchanged = 0;
  for (const def of order) {
    const keyOf = (item: Item) => `${ownerOfItem(def, item) ?? ''} ${item.id}`;
    const have = (current.get(def) ?? []).filter((item) => scope === undefined || inScope(def, item, scope));
    const byKey = new Map(have.map((item) => [keyOf(item), item]));
    const wanted = new Set<string>();
    (desired.get(def) ?? []).forEach((item, i) => {
      const at = `${def.exportKey ?? def.kind}.${i}`;
      if (scope !== undefined && !inScope(def, item, scope)) {
        const field = def.scope === 'tenant-self' ? 'id' : 'tenant_id';
        problems.push({ path: `${at}.${field}`, message: `is outside the document's tenant scope "${scope}"` });
        return;
      }
      wanted.add(keyOf(item));
      const base = { kind: def.kind, id: item.id, tenant_id: ownerOfItem(def, item), def, at };
      const before = byKey.get(keyOf(item));
      if (!before) {
        writes.push({ ...base, op: 'create', item, changes: fieldChanges(def, undefined, item, options.redacted) });
        return;
      }
      // the common case, an unchanged item, in one comparison (a secret given in the file is looked at below)
      const secretGiven = def.secret !== undefined && item[def.secret.field] !== undefined;
      if (!secretGiven && sameValue(withoutSecret(def, before), item)) return void unchanged++;
      const changes = fieldChanges(def, before, item, options.redacted);
      if (changes.length === 0) return void unchanged++;
      const rotates = changes.some((c) => c.sensitive);
      writes.push({ ...base, op: 'update', item: rotates ? item : withoutSecret(def, item), changes });
    });
    if (mode !== 'replace') continue;
    for (const before of have) {
      if (wanted.has(keyOf(before))) continue;
      const at = `${def.exportKey ?? def.kind}[${before.id}]`;
      const changes = fieldChanges(def, before, undefined);
      deletes.push({
        op: 'delete',
        kind: def.kind,
        id: before.id,
        tenant_id: ownerOfItem(def, before),
        def,
        at,
        changes,
      });
    }
  }
  const doomed = new Set(deletes.filter((d) => d.def.scope === 'tenant-self').map((d) => d.id));
  for (const step of writes) {
    if (step.tenant_id !== null && doomed.has(step.tenant_id))
      problems.push({
        path: `${step.at}.tenant_id`,
        message: `tenant "${step.tenant_id}" is not in the document, so replace would delete it`,
      });
  }
  return { steps: [...writes, ...deletes.reverse()], unchanged, problems };
}

function withoutSecret(def: ResourceDefinition, item: Item): Item {
  if (!def.secret || item[def.secret.field] === undefined) return item;
  const copy = { ...item };
  delete copy[def.secret.field];
  return copy;
}

/**
 * Field-level changes from `before` to `after` (either may be absent: a create or a delete). A secret given in the
 * document is a change unless its version label is set and equal to the stored one (as Terraform's write-only
 * arguments work), so re-applying the same document is a no-op.
 */
function fieldChanges(
  def: ResourceDefinition,
  before: Item | undefined,
  after: Item | undefined,
  redacted?: Set<Item>,
): FieldChange[] {
  const secret = def.secret?.field;
  const out: FieldChange[] = [];
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  keys.delete('id');
  if (secret) keys.delete(secret);
  for (const key of [...keys].sort()) compare(key, before?.[key], after?.[key], out, !before || !after);
  if (!secret) return out;
  const stored = before?.[secret] === REDACTED;
  const given = after !== undefined && after[secret] !== undefined && !redacted?.has(after);
  const versionField = def.secret?.mode === 'encrypted' ? def.secret.versionField : undefined;
  const sameVersion =
    versionField !== undefined && after?.[versionField] != null && after[versionField] === before?.[versionField];
  if (given && !(stored && sameVersion))
    out.push({ path: secret, before: stored ? REDACTED : null, after: REDACTED, sensitive: true });
  else if (!after && stored) out.push({ path: secret, before: REDACTED, sensitive: true });
  return out;
}

/** Deep equality as canonical JSON sees it (key order aside, an undefined member is absent), without building it. */
function sameValue(x: unknown, y: unknown): boolean {
  const a = x ?? null;
  const b = y ?? null;
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameValue(v, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] !== undefined);
  const ka = keys(a);
  return ka.length === keys(b).length && ka.every((k) => b[k] !== undefined && sameValue(a[k], b[k]));
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Appends the leaf differences of two values; `whole` (a create or delete) lists every set field as it is. */
function compare(path: string, before: unknown, after: unknown, out: FieldChange[], whole: boolean): void {
  if (whole) {
    if ((before ?? null) !== null || (after ?? null) !== null) out.push(strip({ path, before, after }));
    return;
  }
  if (sameValue(before, after)) return;
  if (isObject(before) && isObject(after)) {
    for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort())
      compare(`${path}.${key}`, before[key], after[key], out, false);
  } else if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    before.forEach((value, i) => compare(`${path}.${i}`, value, after[i], out, false));
  } else out.push(strip({ path, before, after }));
}

/** Drops an absent side, so JSON shows only what exists. */
function strip(change: FieldChange): FieldChange {
  if (change.before === undefined) delete change.before;
  if (change.after === undefined) delete change.after;
  return change;
}
