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

/** Inserts a resource; undefined when one with that kind and id already exists. */
export async function insertResource(db: Executor, r: NewResource): Promise<StoredResource | undefined> {
  const now = r.created_at ?? new Date().toISOString();
  const row = await db
    .insertInto('resources')
    .values({ kind: r.kind, id: r.id, tenant_id: r.tenant_id, data: json(r.data), secret: r.secret ?? null, lookup: r.lookup ?? null, created_at: now, updated_at: now })
    .onConflict((oc) => oc.columns(['kind', 'id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return row && fromRow(row);
}

export async function getResource(db: Executor, kind: string, id: string, forUpdate = false): Promise<StoredResource | undefined> {
  let q = db.selectFrom('resources').selectAll().where('kind', '=', kind).where('id', '=', id);
  if (forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row && fromRow(row);
}

export async function findResourceByLookup(db: Executor, kind: string, lookup: string): Promise<StoredResource | undefined> {
  const row = await db.selectFrom('resources').selectAll().where('kind', '=', kind).where('lookup', '=', lookup).executeTakeFirst();
  return row && fromRow(row);
}

export interface ListQuery {
  /** Only these tenants; `null` in the list means global (tenant_id null) rows. Undefined: every row. */
  tenants?: (string | null)[];
  /** Only these ids. */
  ids?: string[];
  /** Only ids greater than this (cursor). */
  after?: string;
  limit: number;
}

/** Rows of one kind in id order. */
export async function listResources(db: Executor, kind: string, q: ListQuery): Promise<StoredResource[]> {
  let query = db.selectFrom('resources').selectAll().where('kind', '=', kind);
  if (q.tenants) {
    const ids = q.tenants.filter((t): t is string => t !== null);
    const withGlobal = q.tenants.includes(null);
    query = query.where((eb) => {
      const parts = [];
      if (ids.length) parts.push(eb('tenant_id', 'in', ids));
      if (withGlobal) parts.push(eb('tenant_id', 'is', null));
      return parts.length ? eb.or(parts) : eb.val(false);
    });
  }
  if (q.ids) query = q.ids.length ? query.where('id', 'in', q.ids) : query.where((eb) => eb.val(false));
  if (q.after !== undefined) query = query.where('id', '>', q.after);
  const rows = await query.orderBy('id', 'asc').limit(q.limit).execute();
  return rows.map(fromRow);
}

/** Every row of one kind (export, snapshots). */
export async function allResources(db: Executor, kind: string): Promise<StoredResource[]> {
  const rows = await db.selectFrom('resources').selectAll().where('kind', '=', kind).orderBy('id', 'asc').execute();
  return rows.map(fromRow);
}

export async function updateResource(
  db: Executor,
  kind: string,
  id: string,
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
    .where('kind', '=', kind)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return fromRow(row);
}

export async function deleteResource(db: Executor, kind: string, id: string): Promise<boolean> {
  const r = await db.deleteFrom('resources').where('kind', '=', kind).where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Resources a tenant owns (everything with its tenant_id), for delete checks and cascades. */
export async function ownedResources(db: Executor, tenantId: string): Promise<StoredResource[]> {
  const rows = await db.selectFrom('resources').selectAll().where('tenant_id', '=', tenantId).orderBy('kind').orderBy('id').execute();
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

/** Resources of `kind` whose top-level `field` names `id` (who still points at a resource about to be deleted). */
export async function referencing(db: Executor, kind: string, field: string, id: string): Promise<ResourceRef[]> {
  return db
    .selectFrom('resources')
    .select(['kind', 'id', 'tenant_id'])
    .where('kind', '=', kind)
    .where(sql<string>`data->>${field}`, '=', id)
    .execute();
}

/** The values of `field` that resources of `kind` hold, except those of `owner` (a tenant, or null: the platform). */
export async function valuesOfOthers(db: Executor, kind: string, field: string, owner: string | null) {
  let q = db
    .selectFrom('resources')
    .select(['kind', 'id', 'tenant_id', sql<string>`data->>${field}`.as('value')])
    .where('kind', '=', kind)
    .where(sql<string | null>`data->>${field}`, 'is not', null);
  q = owner === null
    ? q.where('tenant_id', 'is not', null)
    : q.where((eb) => eb.or([eb('tenant_id', 'is', null), eb('tenant_id', '<>', owner)]));
  return q.execute();
}
