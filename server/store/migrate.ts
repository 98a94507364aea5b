import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './schema';
import * as m001 from './migrations/001-foundation';
import * as m002 from './migrations/002-control-plane';
import * as m003 from './migrations/003-data-plane';
import * as m004 from './migrations/004-request-log-indexes';
import * as m005 from './migrations/005-audit-head';
import * as m006 from './migrations/006-tenant-namespaces';
import * as m007 from './migrations/007-request-log-schema-validation';
import * as m008 from './migrations/008-mcp-approvals';
import * as m009 from './migrations/009-portal-auth';
import * as m010 from './migrations/010-portal-readouts';
import * as m011 from './migrations/011-policy-shadow-stats';
import * as m012 from './migrations/012-quota-resets';
import * as m013 from './migrations/013-user-sessions';
import * as m014 from './migrations/014-quota-usage';

/** Migrations in order. Add a file under migrations/ and list it here. */
export const MIGRATIONS: Record<string, Migration> = {
  '001-foundation': m001,
  '002-control-plane': m002,
  '003-data-plane': m003,
  '004-request-log-indexes': m004,
  '005-audit-head': m005,
  '006-tenant-namespaces': m006,
  '007-request-log-schema-validation': m007,
  '008-mcp-approvals': m008,
  '009-portal-auth': m009,
  '010-portal-readouts': m010,
  '011-policy-shadow-stats': m011,
  '012-quota-resets': m012,
  '013-user-sessions': m013,
  '014-quota-usage': m014,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/**
 * Brings the schema up to date. Kysely's PostgreSQL adapter takes a transaction-scoped advisory lock around the run,
 * so instances starting together on one database migrate once, one after the other.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
