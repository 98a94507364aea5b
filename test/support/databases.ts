import { randomBytes } from 'node:crypto';
import type { OpenDatabase } from '../../server/store/database';

/** The dialects every storage-touching suite runs on (kysely's tests loop the same way). */
export type TestDialect = 'pglite' | 'postgres';

const pgUrl = process.env.TEST_DATABASE_URL;
/** Where jest's global setup leaves the name of the run's migrated template database (workers inherit it). */
const TEMPLATE_ENV = 'PORTICO_TEST_PG_TEMPLATE';
let noticePrinted = false;

/**
 * Where the suites' embedded databases run: the setting's default, unless the run says otherwise
 * (`PORTICO_PGLITE_THREAD=main|worker` in jest's environment), passed on as a gateway setting.
 */
export function pgliteThreadEnv(): { PORTICO_PGLITE_THREAD?: string } {
  const thread = process.env.PORTICO_PGLITE_THREAD;
  return thread ? { PORTICO_PGLITE_THREAD: thread } : {};
}

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

/**
 * A fresh PostgreSQL database on the test server, and a function that drops it: empty, or with `'migrated'` a copy of
 * the run's migrated template when global setup made one (a gateway's migrations then find nothing to do; without
 * the template it is empty and they run). Suites about migrating itself ask for an empty one.
 */
export async function createPostgresDatabase(
  from: 'empty' | 'migrated' = 'empty',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const template = from === 'migrated' ? process.env[TEMPLATE_ENV] : undefined;
  return createDatabase(`portico_test_${randomBytes(6).toString('hex')}`, template ? ` template ${template}` : '');
}

/** A database of `dialect` opened (so migrated) as a gateway opens it, fresh and empty; `close` drops a PostgreSQL one. */
export async function openTestDatabase(
  dialect: TestDialect,
): Promise<{ database: OpenDatabase; close: () => Promise<void> }> {
  const { openDatabase } = await import('../../server/store/database');
  if (dialect !== 'postgres') {
    const { loadConfig } = await import('../../server/config');
    const { pgliteThread } = loadConfig(pgliteThreadEnv());
    const database = await openDatabase({ dataDir: 'memory://', pgliteThread });
    return { database, close: () => database.close() };
  }
  const pg = await createPostgresDatabase();
  const database = await openDatabase({ databaseUrl: pg.url });
  return {
    database,
    close: async () => {
      await database.close();
      await pg.drop();
    },
  };
}

/** Global setup: a database migrated as a gateway start would, for createPostgresDatabase to copy (none without TEST_DATABASE_URL). */
export async function createPostgresTemplate(): Promise<void> {
  if (!pgUrl) return;
  const name = `portico_tmpl_${randomBytes(6).toString('hex')}`;
  const { url } = await createDatabase(name, '');
  const { openDatabase } = await import('../../server/store/database');
  await (await openDatabase({ databaseUrl: url })).close();
  process.env[TEMPLATE_ENV] = name;
}

/** Global teardown: drops the template. */
export async function dropPostgresTemplate(): Promise<void> {
  const name = process.env[TEMPLATE_ENV];
  if (pgUrl && name) await adminQuery(`drop database if exists ${name} with (force)`);
}

async function createDatabase(name: string, clause: string): Promise<{ url: string; drop: () => Promise<void> }> {
  await adminQuery(`create database ${name}${clause}`);
  const url = new URL(pgUrl!);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(`drop database if exists ${name} with (force)`) };
}

/** One statement on the test server's maintenance database (CREATE/DROP DATABASE cannot run in a database it names). */
async function adminQuery(text: string): Promise<void> {
  if (!pgUrl) throw new Error('TEST_DATABASE_URL is not set');
  const { Client } = await import('pg');
  const client = new Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
