import { sql, type RawBuilder } from 'kysely';
import { columnsOf, ownerOf, type NewResource, type ResourceKey, type StoredResource } from './resource-store';
import { json } from './schema';

/**
 * Resource writes as statements that ride on another, the audit append (see AuditLog.appendWith): each hangs on
 * `when`, the append's own condition, and returns a row if it wrote.
 */

/**
 * Inserts a resource where `when` holds. Not `on conflict do nothing`: an id its owner already has fails the statement
 * (23505 on RESOURCE_KEY), and with it whatever rides along.
 */
export function insertResourceWhen(
  r: NewResource & { created_at: string },
  when: RawBuilder<boolean>,
): RawBuilder<unknown> {
  const c = columnsOf(r, r.created_at);
  return sql`insert into resources (kind, id, tenant_id, data, secret, lookup, created_at, updated_at)
    select ${c.kind}, ${c.id}, ${c.tenant_id}, ${c.data}::jsonb, ${c.secret}, ${c.lookup},
      ${c.created_at}::timestamptz, ${c.updated_at}::timestamptz
    where ${when}
    returning 1`;
}

/**
 * Whether the resource is still as `row` was read (its data and secret), read with its row locked until the statement
 * ends: the precondition of a change riding on another statement (see AppendPart.precondition). False when it is gone,
 * and when another transaction holds it (`skip locked`): that one may be a write of this process waiting for its turn
 * in the audit chain behind this statement, which would then wait for it in turn.
 */
export function stillAsRead(row: StoredResource): RawBuilder<boolean> {
  return sql<boolean>`coalesce((select data = ${json(row.data)}::jsonb and secret is not distinct from ${row.secret}
    from resources where kind = ${row.kind} and owner = ${ownerOf(row.tenant_id)} and id = ${row.id}
    for update skip locked), false)`;
}

/**
 * Whether tenant `id` exists, its row share-locked until the statement ends (its delete then waits, and takes what the
 * statement made along); false when another transaction holds it for update (`skip locked`, as in stillAsRead).
 */
export function tenantStands(id: string): RawBuilder<boolean> {
  return sql<boolean>`exists (select 1 from resources where kind = 'tenant' and owner = '' and id = ${id}
    for key share skip locked)`;
}

/** A resource's row as AppendPart.row names it. */
export const rowName = (key: ResourceKey): string => `${key.kind}/${ownerOf(key.tenant_id)}/${key.id}`;

/** Updates a resource where `when` holds. */
export function updateResourceWhen(
  key: ResourceKey,
  change: { data: Record<string, unknown>; secret?: string | null; lookup?: string | null; updated_at: string },
  when: RawBuilder<boolean>,
): RawBuilder<unknown> {
  const secret = change.secret !== undefined ? sql`, secret = ${change.secret}` : sql``;
  const lookup = change.lookup !== undefined ? sql`, lookup = ${change.lookup}` : sql``;
  return sql`update resources set data = ${json(change.data)}::jsonb,
      updated_at = ${change.updated_at}::timestamptz${secret}${lookup}
    where kind = ${key.kind} and owner = ${ownerOf(key.tenant_id)} and id = ${key.id} and ${when}
    returning 1`;
}

/** Deletes a resource where `when` holds. */
export function deleteResourceWhen(key: ResourceKey, when: RawBuilder<boolean>): RawBuilder<unknown> {
  return sql`delete from resources
    where kind = ${key.kind} and owner = ${ownerOf(key.tenant_id)} and id = ${key.id} and ${when}
    returning 1`;
}
