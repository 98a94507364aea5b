import { sql } from 'kysely';
import { MIGRATIONS } from '../server/store/migrate';
import { migrateUnderLock } from '../server/store/migration-lock';
import { openTestDatabase, testDialects } from './support/databases';

/*
 * A start on a database with exactly this build's migrations applied skips kysely's migrator (one query instead of
 * its catalog look-ups); any other state still goes through it, so its checks stay.
 */
describe.each(testDialects())('migrating at start (%s)', (dialect) => {
  test('up to date: nothing to do; an applied migration this build does not know is still refused', async () => {
    const { database, close } = await openTestDatabase(dialect);
    try {
      const names = async () =>
        (await sql<{ name: string }>`select name from kysely_migration order by name`.execute(database.db)).rows.map(
          (r) => r.name,
        );
      expect(await names()).toEqual(Object.keys(MIGRATIONS));
      await migrateUnderLock(database.db);
      expect(await names()).toEqual(Object.keys(MIGRATIONS));

      // a database a newer build migrated: kysely's migrator refuses it, as before the fast path
      await sql`insert into kysely_migration (name, timestamp) values ('999-from-the-future', '2030-01-01')`.execute(
        database.db,
      );
      await expect(migrateUnderLock(database.db)).rejects.toThrow(/999-from-the-future/);
    } finally {
      await close();
    }
  });
});
