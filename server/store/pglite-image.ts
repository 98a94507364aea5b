import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../lib/package-root';
import type { Database } from './schema';

/**
 * Where the install keeps the embedded database's starting image: an empty PGlite, migrated, dumped as a plain
 * tarball. A new data directory (or `memory://`) is loaded from it instead of running initdb and every migration,
 * which is most of a first start (seconds of CPU on a small machine). Written on `npm ci` (`prepare` runs
 * `portico pglite-image`); without it a start simply runs initdb, as before. Migrations added after the image was
 * written still run on top of it.
 */
export const SHIPPED_PGLITE_IMAGE = join(packageRoot(), 'dist', 'pglite-image.tar');

/** A PGlite in memory, migrated as a gateway start would, dumped as a tar (about 40 MB: loading it uncompressed saves a start about a second). */
export async function migratedPgliteImage(): Promise<Blob> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { Kysely } = await import('kysely');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  const { migrateUnderLock } = await import('./migration-lock');
  const client = await PGlite.create();
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  try {
    await migrateUnderLock(db);
    // everything written to the data files now, so a start from the image has no WAL to replay
    await client.exec('CHECKPOINT');
    return await client.dumpDataDir('none'); // a plain tar: loading gzip costs a start about a second more
  } finally {
    await db.destroy();
  }
}

/** Writes the image to `path` (aside, then renamed: a start never reads half a file). */
export async function writePgliteImage(path: string = SHIPPED_PGLITE_IMAGE): Promise<string> {
  const image = Buffer.from(await (await migratedPgliteImage()).arrayBuffer());
  mkdirSync(dirname(path), { recursive: true });
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, image);
  renameSync(aside, path);
  return path;
}
