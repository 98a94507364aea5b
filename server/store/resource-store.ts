import type { Executor, ResourceTable } from './schema';
import { json } from './schema';
import { sql, type Selectable } from 'kysely';

/** One stored resource as the service sees it: its public `data` plus identity and timestamps. */
export interface StoredResource {
  kind: string;
  id: string;
  tenant_id: string | null;
  data: Record<string, unknown>;
  secret: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();

function fromRow(row: Selectable<ResourceTable>): StoredResource {
  return {
    kind: row.kind,
    id: row.id,
    tenant_id: row.tenant_id,
    data: row.data,
    secret: row.secret,
    version: Number(row.version),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export interface NewResource {
  kind: string;
  id: string;
  tenant_id: string | null;
  data: Record<string, unknown>;
  secret?: string | null;
  lookup?: string | null;
  created_at?: string;
}

/** The owner column's value for a tenant id: ids are unique per (kind, owner), '' standing for global. */
export const ownerOf = (tenantId: string | null): string => tenantId ?? '';

/** One resource's identity: ids are unique per kind and owner (a tenant, or global). */
export interface ResourceKey {
  kind: string;
  id: string;
  tenant_id: string | null;
}

/** Inserts a resource; undefined when its owner already has one of that kind and id. */
export async function insertResource(db: Executor, r: NewResource): Promise<StoredResource | undefined> {
  const [row] = await insertResources(db, [r]);
  return row;
}

/** The resource of exactly this owner. */
export async function getResource(
  db: Executor,
  key: ResourceKey,
  forUpdate = false,
): Promise<StoredResource | undefined> {
  let q = db
    .selectFrom('resources')
    .selectAll()
    .where('kind', '=', key.kind)
    .where('owner', '=', ownerOf(key.tenant_id))
    .where('id', '=', key.id);
  if (forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row && fromRow(row);
}

/** Every owner's resource of this kind and id (global first), for resolving an id in a caller's view. */
export async function resourcesWithId(
  db: Executor,
  kind: string,
  id: string,
  forUpdate = false,
): Promise<StoredResource[]> {
  let q = db.selectFrom('resources').selectAll().where('kind', '=', kind).where('id', '=', id).orderBy('owner');
  if (forUpdate) q = q.forUpdate();
  return (await q.execute()).map(fromRow);
}

/**
 * What `id` names for a resource of `tenantId`: that tenant's own resource, else a global one. (A tenant id and a
 * global id of a kind tenants can see never coexist, so there is no choosing between the two.)
 */
export async function resolveInTenant(
  db: Executor,
  kind: string,
  id: string,
  tenantId: string | null,
  forUpdate = false,
) {
  const own = tenantId === null ? undefined : await getResource(db, { kind, id, tenant_id: tenantId }, forUpdate);
  return own ?? getResource(db, { kind, id, tenant_id: null }, forUpdate);
}

export async function findResourceByLookup(
  db: Executor,
  kind: string,
  lookup: string,
): Promise<StoredResource | undefined> {
  const row = await db
    .selectFrom('resources')
    .selectAll()
    .where('kind', '=', kind)
    .where('lookup', '=', lookup)
    .executeTakeFirst();
  return row && fromRow(row);
}

export interface ListQuery {
  /** Only these tenants; `null` in the list means global (tenant_id null) rows. Undefined: every row. */
  tenants?: (string | null)[];
  /** Only these ids. */
  ids?: string[];
  /** Only rows after this position in (id, owner) order (cursor). */
  after?: { id: string; owner: string };
  limit: number;
}

/** Rows of one kind in (id, owner) order. */
export async function listResources(db: Executor, kind: string, q: ListQuery): Promise<StoredResource[]> {
  let query = db.selectFrom('resources').selectAll().where('kind', '=', kind);
  if (q.tenants) query = query.where('owner', 'in', q.tenants.map(ownerOf));
  if (q.ids) query = q.ids.length ? query.where('id', 'in', q.ids) : query.where((eb) => eb.val(false));
  const after = q.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([eb('id', '>', after.id), eb.and([eb('id', '=', after.id), eb('owner', '>', after.owner)])]),
    );
  }
  const rows = await query.orderBy('id', 'asc').orderBy('owner', 'asc').limit(q.limit).execute();
  return rows.map(fromRow);
}

/** Every row of one kind (export, snapshots). */
export async function allResources(db: Executor, kind: string): Promise<StoredResource[]> {
  const rows = await db
    .selectFrom('resources')
    .selectAll()
    .where('kind', '=', kind)
    .orderBy('id')
    .orderBy('owner')
    .execute();
  return rows.map(fromRow);
}

export async function updateResource(
  db: Executor,
  key: ResourceKey,
  change: { data: Record<string, unknown>; secret?: string | null; lookup?: string | null; bumpVersion?: boolean },
): Promise<StoredResource> {
  const row = await db
    .updateTable('resources')
    .set((eb) => ({
      data: json(change.data),
      updated_at: new Date().toISOString(),
      ...(change.secret !== undefined ? { secret: change.secret } : {}),
      ...(change.lookup !== undefined ? { lookup: change.lookup } : {}),
      ...(change.bumpVersion ? { version: eb('version', '+', 1) } : {}),
    }))
    .where('kind', '=', key.kind)
    .where('owner', '=', ownerOf(key.tenant_id))
    .where('id', '=', key.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return fromRow(row);
}

export async function deleteResource(db: Executor, key: ResourceKey): Promise<boolean> {
  const r = await db
    .deleteFrom('resources')
    .where('kind', '=', key.kind)
    .where('owner', '=', ownerOf(key.tenant_id))
    .where('id', '=', key.id)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Resources a tenant owns (everything with its tenant_id), for delete checks and cascades. */
export async function ownedResources(db: Executor, tenantId: string): Promise<StoredResource[]> {
  const rows = await db
    .selectFrom('resources')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('kind')
    .orderBy('id')
    .execute();
  return rows.map(fromRow);
}

/** Whether a resource of `tenantId` may name `target`: one of its own tenant's, or a global one. */
export const nameable = (target: StoredResource | undefined, tenantId: string | null): target is StoredResource =>
  target !== undefined && (target.tenant_id === null || target.tenant_id === tenantId);

/** A resource that names another, or holds a claimed value: just who it is and whose. */
export interface ResourceRef {
  kind: string;
  id: string;
  tenant_id: string | null;
}

/**
 * Resources of `kind` whose top-level `field` names `target` (who still points at a resource about to be deleted): a
 * tenant's resource is named only by that tenant's resources; a global one by anyone's.
 */
export async function referencing(
  db: Executor,
  kind: string,
  field: string,
  target: ResourceKey,
): Promise<ResourceRef[]> {
  let q = db
    .selectFrom('resources')
    .select(['kind', 'id', 'tenant_id'])
    .where('kind', '=', kind)
    .where(sql<string>`data->>${field}`, '=', target.id);
  if (target.tenant_id !== null) q = q.where('tenant_id', '=', target.tenant_id);
  return q.execute();
}

/** The values of `field` that resources of `kind` hold, except those of `owner` (a tenant, or null: the platform). */
export async function valuesOfOthers(db: Executor, kind: string, field: string, owner: string | null) {
  let q = db
    .selectFrom('resources')
    .select(['kind', 'id', 'tenant_id', sql<string>`data->>${field}`.as('value')])
    .where('kind', '=', kind)
    .where(sql<string | null>`data->>${field}`, 'is not', null);
  q =
    owner === null
      ? q.where('tenant_id', 'is not', null)
      : q.where((eb) => eb.or([eb('tenant_id', 'is', null), eb('tenant_id', '<>', owner)]));
  return q.execute();
}

/** Rows per multi-row statement: well under PostgreSQL's 65,535 parameters at 8 columns a row. */
const BATCH = 1000;

/**
 * Inserts many resources, one multi-row statement per {@link BATCH} (config import). Returns the rows stored; one
 * whose owner already has that kind and id is left out, as {@link insertResource} does.
 */
export async function insertResources(db: Executor, list: NewResource[]): Promise<StoredResource[]> {
  const stored: StoredResource[] = [];
  const now = new Date().toISOString();
  for (let i = 0; i < list.length; i += BATCH) {
    const values = list.slice(i, i + BATCH).map((r) => ({
      kind: r.kind,
      id: r.id,
      tenant_id: r.tenant_id,
      data: json(r.data),
      secret: r.secret ?? null,
      lookup: r.lookup ?? null,
      created_at: r.created_at ?? now,
      updated_at: r.created_at ?? now,
    }));
    const rows = await db
      .insertInto('resources')
      .values(values)
      .onConflict((oc) => oc.columns(['kind', 'owner', 'id']).doNothing())
      .returningAll()
      .execute();
    stored.push(...rows.map(fromRow));
  }
  return stored;
}

/** Every owner's resources of `kind` with one of these ids, optionally locked (checks of many writes at once). */
export async function resourcesWithIds(
  db: Executor,
  kind: string,
  ids: readonly string[],
  forUpdate = false,
): Promise<StoredResource[]> {
  const unique = [...new Set(ids)].sort();
  const found: StoredResource[] = [];
  for (let i = 0; i < unique.length; i += BATCH) {
    let q = db
      .selectFrom('resources')
      .selectAll()
      .where('kind', '=', kind)
      .where('id', 'in', unique.slice(i, i + BATCH));
    if (forUpdate) q = q.forUpdate();
    found.push(...(await q.execute()).map(fromRow));
  }
  return found;
}
