import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Database } from '../../server/store/schema';

/** Where jest's global setup leaves the path of the run's migrated PGlite image (workers inherit the environment). */
export const PGLITE_IMAGE_ENV = 'PORTICO_TEST_PGLITE_IMAGE';

/**
 * The migrated PGlite image of this jest run, for `openGateway`'s `pgliteImage`: starting from it skips initdb and
 * every migration. Undefined when no global setup ran (a suite started some other way): the gateway then migrates.
 */
export function testPgliteImage(): string | undefined {
  return process.env[PGLITE_IMAGE_ENV] || undefined;
}

/** Makes the image once: a PGlite in memory, migrated as a gateway start would, dumped as a gzip tarball to a new file. */
export async function writePgliteImage(): Promise<string> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { Kysely } = await import('kysely');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  const { migrateUnderLock } = await import('../../server/store/migration-lock');
  const client = await PGlite.create();
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  try {
    await migrateUnderLock(db);
    const image = await client.dumpDataDir('gzip');
    const path = join(mkdtempSync(join(tmpdir(), 'portico-pglite-image-')), 'migrated.tar.gz');
    writeFileSync(path, Buffer.from(await image.arrayBuffer()));
    return path;
  } finally {
    await db.destroy();
  }
}

/** Removes the image and its directory. */
export function removePgliteImage(path: string): void {
  rmSync(dirname(path), { recursive: true, force: true });
}
