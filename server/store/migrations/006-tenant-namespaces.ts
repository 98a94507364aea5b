import { sql, type Kysely } from 'kysely';

/**
 * Ids are unique per owner, not per gateway: two tenants may each have a route "main", and neither learns the other
 * has one. `owner` is the tenant id, or '' for a global (platform) resource, so it can sit in a primary key. Route
 * versions and webhook deliveries carry the owner of the resource they belong to.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table resources add column owner text generated always as (coalesce(tenant_id, '')) stored`.execute(
    db,
  );
  await sql`alter table resources drop constraint resources_pk`.execute(db);
  await sql`alter table resources add constraint resources_pk primary key (kind, owner, id)`.execute(db);
  await db.schema.createIndex('resources_kind_id').on('resources').columns(['kind', 'id']).execute();

  await db.schema
    .alterTable('resource_versions')
    .addColumn('owner', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await sql`alter table resource_versions drop constraint resource_versions_pk`.execute(db);
  await sql`alter table resource_versions add constraint resource_versions_pk primary key (kind, owner, id, version)`.execute(
    db,
  );

  await db.schema
    .alterTable('webhook_deliveries')
    .addColumn('webhook_owner', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.dropIndex('webhook_deliveries_hook').execute();
  await db.schema
    .createIndex('webhook_deliveries_hook')
    .on('webhook_deliveries')
    .columns(['webhook_owner', 'webhook_id', 'created_at'])
    .execute();
}
