import type { TestGateway } from './gateway';

/**
 * Everything a refused admin call must leave as it was: every resource (with its sealed secret and version), every
 * stored version, the number of audit events and, when asked, the webhook deliveries. Suites compare one taken
 * before a refused call with one taken after.
 */
export async function storedState(t: TestGateway, options: { deliveries?: boolean } = {}) {
  const db = t.gateway.db;
  return {
    resources: await db
      .selectFrom('resources')
      .select(['kind', 'id', 'tenant_id', 'data', 'secret', 'version'])
      .orderBy('kind')
      .orderBy('id')
      .execute(),
    versions: await db
      .selectFrom('resource_versions')
      .select(['kind', 'id', 'version'])
      .orderBy('kind')
      .orderBy('id')
      .orderBy('version')
      .execute(),
    ...(options.deliveries
      ? { deliveries: await db.selectFrom('webhook_deliveries').select(['id', 'status']).orderBy('id').execute() }
      : {}),
    audit: Number(
      (
        await db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
  };
}
