import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openDatabase } from '../server/store/database';
import { MIGRATIONS } from '../server/store/migrate';
import type { Db } from '../server/store/schema';
import { testPgliteImage } from './support/pglite-image';

const migrationsOf = async (db: Db) =>
  (
    await db
      .selectFrom('kysely_migration' as never)
      .select('name' as never)
      .orderBy('name' as never)
      .execute()
  ).map((r: any) => r.name);
const markersOf = async (db: Db) =>
  (await sql<{ note: string }>`select note from image_marker order by note`.execute(db)).rows.map((r) => r.note);
const hasMarker = async (db: Db) =>
  (await sql<{ found: string | null }>`select to_regclass('image_marker')::text as found`.execute(db)).rows[0]!
    .found !== null;

/** openDatabase's pgliteImage (the test aid global setup uses): a new database starts from it, an existing one does not. */
describe('a PGlite database started from an image', () => {
  let marked: Blob;
  beforeAll(async () => {
    // an image told apart by a table of its own, made from the run's image (or migrated, when there is none)
    const { PGlite } = await import('@electric-sql/pglite');
    const base = testPgliteImage();
    const client = await PGlite.create(
      base ? { loadDataDir: new Blob([await (await import('node:fs/promises')).readFile(base)]) } : {},
    );
    await client.exec(`create table image_marker (note text); insert into image_marker values ('from the image')`);
    marked = await client.dumpDataDir('gzip');
    await client.close();
  });

  test('in memory: holds what the image held, and migrations still run (finding nothing pending)', async () => {
    const database = await openDatabase({ dataDir: 'memory://', pgliteImage: marked });
    try {
      expect(await markersOf(database.db)).toEqual(['from the image']);
      expect(await migrationsOf(database.db)).toEqual(Object.keys(MIGRATIONS));
    } finally {
      await database.close();
    }
  });

  test('an image file that is absent falls back to initdb and migrating', async () => {
    const database = await openDatabase({
      dataDir: 'memory://',
      pgliteImage: join(tmpdir(), 'no-such-portico-image.tar.gz'),
    });
    try {
      expect(await hasMarker(database.db)).toBe(false);
      expect(await migrationsOf(database.db)).toEqual(Object.keys(MIGRATIONS));
    } finally {
      await database.close();
    }
  });

  test('a data directory on disk starts from the image once, then keeps its own database', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portico-image-dir-'));
    const first = await openDatabase({ dataDir, pgliteImage: marked });
    await sql`insert into image_marker values ('written after')`.execute(first.db);
    await first.close();
    const again = await openDatabase({ dataDir, pgliteImage: marked });
    try {
      expect(await markersOf(again.db)).toEqual(['from the image', 'written after']);
      expect(await migrationsOf(again.db)).toEqual(Object.keys(MIGRATIONS));
    } finally {
      await again.close();
    }
  });
});
