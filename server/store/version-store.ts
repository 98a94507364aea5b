import type { AuditActor, Executor } from './schema';
import { json } from './schema';
import { insertJsonRows } from './json-rows';
import { ownerOf, type ResourceKey } from './resource-store';

/** How many versions of a versioned resource are kept. */
export const KEPT_VERSIONS = 10;

export interface StoredVersion {
  version: number;
  config: Record<string, unknown>;
  created_at: string;
  actor: AuditActor;
}

/** The versions of one resource (ids are unique per owner, so the owner is part of the key). */
const versionsOf = (db: Executor, key: ResourceKey) =>
  db
    .selectFrom('resource_versions')
    .where('kind', '=', key.kind)
    .where('owner', '=', ownerOf(key.tenant_id))
    .where('id', '=', key.id);

/** Records a version and drops those beyond the newest {@link KEPT_VERSIONS}. */
export async function recordVersion(
  db: Executor,
  key: ResourceKey,
  version: number,
  config: Record<string, unknown>,
  actor: AuditActor,
): Promise<void> {
  const { kind, id } = key;
  const owner = ownerOf(key.tenant_id);
  const created_at = new Date().toISOString();
  await db
    .insertInto('resource_versions')
    .values({ kind, owner, id, version, config: json(config), actor: json(actor), created_at })
    .execute();
  await db
    .deleteFrom('resource_versions')
    .where('kind', '=', kind)
    .where('owner', '=', owner)
    .where('id', '=', id)
    .where('version', '<=', version - KEPT_VERSIONS)
    .execute();
}

export async function listVersions(db: Executor, key: ResourceKey): Promise<StoredVersion[]> {
  const rows = await versionsOf(db, key).selectAll().orderBy('version', 'desc').limit(KEPT_VERSIONS).execute();
  return rows.map((r) => ({
    version: r.version,
    config: r.config,
    actor: r.actor,
    created_at: new Date(r.created_at).toISOString(),
  }));
}

export async function getVersion(db: Executor, key: ResourceKey, version: number): Promise<StoredVersion | undefined> {
  return (await listVersions(db, key)).find((v) => v.version === version);
}

export async function deleteVersions(db: Executor, key: ResourceKey): Promise<void> {
  await db
    .deleteFrom('resource_versions')
    .where('kind', '=', key.kind)
    .where('owner', '=', ownerOf(key.tenant_id))
    .where('id', '=', key.id)
    .execute();
}

/** Records version 1 of many new resources in a few statements (config import). */
export async function recordFirstVersions(
  db: Executor,
  list: { key: ResourceKey; config: Record<string, unknown> }[],
  actor: AuditActor,
): Promise<void> {
  const created_at = new Date().toISOString();
  const rows = list.map(({ key, config }) => ({
    kind: key.kind,
    owner: ownerOf(key.tenant_id),
    id: key.id,
    version: 1,
    config,
    actor,
    created_at,
  }));
  const columns = {
    kind: 'text',
    owner: 'text',
    id: 'text',
    version: 'integer',
    config: 'jsonb',
    actor: 'jsonb',
    created_at: 'timestamptz',
  };
  await insertJsonRows(db, 'resource_versions', columns, rows);
}
