import type { AuditActor, Executor } from './schema';
import { json } from './schema';

/** How many versions of a versioned resource are kept. */
export const KEPT_VERSIONS = 10;

export interface StoredVersion {
  version: number;
  config: Record<string, unknown>;
  created_at: string;
  actor: AuditActor;
}

/** Records a version and drops those beyond the newest {@link KEPT_VERSIONS}. */
export async function recordVersion(db: Executor, kind: string, id: string, version: number, config: Record<string, unknown>, actor: AuditActor): Promise<void> {
  await db.insertInto('resource_versions').values({ kind, id, version, config: json(config), actor: json(actor), created_at: new Date().toISOString() }).execute();
  await db.deleteFrom('resource_versions').where('kind', '=', kind).where('id', '=', id).where('version', '<=', version - KEPT_VERSIONS).execute();
}

export async function listVersions(db: Executor, kind: string, id: string): Promise<StoredVersion[]> {
  const rows = await db.selectFrom('resource_versions').selectAll().where('kind', '=', kind).where('id', '=', id).orderBy('version', 'desc').limit(KEPT_VERSIONS).execute();
  return rows.map((r) => ({ version: r.version, config: r.config, actor: r.actor, created_at: new Date(r.created_at).toISOString() }));
}

export async function getVersion(db: Executor, kind: string, id: string, version: number): Promise<StoredVersion | undefined> {
  return (await listVersions(db, kind, id)).find((v) => v.version === version);
}

export async function deleteVersions(db: Executor, kind: string, id: string): Promise<void> {
  await db.deleteFrom('resource_versions').where('kind', '=', kind).where('id', '=', id).execute();
}
