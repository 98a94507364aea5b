import { randomBytes } from 'node:crypto';

/** The dialects every storage-touching suite runs on (kysely's tests loop the same way). */
export type TestDialect = 'pglite' | 'postgres';

const pgUrl = process.env.TEST_DATABASE_URL;
let noticePrinted = false;

/** PGlite always; PostgreSQL when TEST_DATABASE_URL is set. REQUIRE_POSTGRES=1 makes its absence a failure. */
export function testDialects(): TestDialect[] {
  if (pgUrl) return ['pglite', 'postgres'];
  if (process.env.REQUIRE_POSTGRES === '1') throw new Error('REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set');
  if (!noticePrinted) {
    noticePrinted = true;
    process.stderr.write('notice: TEST_DATABASE_URL is not set; PostgreSQL suites are skipped (PGlite suites run)\n');
  }
  return ['pglite'];
}

/** A fresh, empty PostgreSQL database on the test server, and a function that drops it. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!pgUrl) throw new Error('TEST_DATABASE_URL is not set');
  const { Client } = await import('pg');
  const name = `portico_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
