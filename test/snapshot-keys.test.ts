import { RESOURCES } from '../server/resources';
import type { Db } from '../server/store/schema';
import { ConfigSnapshot } from '../server/store/snapshot';
import { KindIndex } from '../server/store/snapshot-index';
import { loadKeyPages, type KeyRow } from '../server/store/snapshot-keys';
import { openTestDatabase, testDialects } from './support/databases';

/*
 * API keys in the snapshot are compact (server/store/snapshot-keys.ts): a full load reads only what the data plane
 * needs, in pages, and a change read through the feed makes the same compact entry as a full load.
 */
const NOW = { created_at: new Date(), updated_at: new Date() };
const KEY_FIELDS = ['expires_at', 'id', 'metadata', 'rate_limit_tier', 'status', 'tenant_id'];

async function insertKey(
  db: Db,
  id: string,
  tenantId: string,
  lookup: string,
  data: Record<string, unknown> = {},
): Promise<void> {
  const doc = {
    name: `key ${id}`,
    prefix: 'ptc_key_abcd',
    status: 'ACTIVE',
    rate_limit_tier: null,
    expires_at: null,
    metadata: {},
    last_used_at: null,
    revoked_at: null,
    ...data,
  };
  await db
    .insertInto('resources')
    .values({
      kind: 'api_key',
      id,
      tenant_id: tenantId,
      data: JSON.stringify(doc) as never,
      lookup,
      secret: null,
      ...NOW,
    })
    .execute();
}

describe.each(testDialects())('compact API keys in the snapshot (%s)', (dialect) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let db: Db;

  beforeAll(async () => {
    database = await openTestDatabase(dialect);
    db = database.database.db;
    for (const t of ['acme', 'beta'])
      await db
        .insertInto('resources')
        .values({
          kind: 'tenant',
          id: t,
          tenant_id: null,
          data: JSON.stringify({ name: t, status: 'ACTIVE' }) as never,
          ...NOW,
        })
        .execute();
    // two owners share the id "key_shared": ids are unique per (kind, owner), and pages must not lose either
    for (let i = 0; i < 7; i++) await insertKey(db, `key_${i}`, i % 2 ? 'acme' : 'beta', `hash-${i}`);
    await insertKey(db, 'key_shared', 'acme', 'hash-shared-acme');
    await insertKey(db, 'key_shared', 'beta', 'hash-shared-beta', {
      status: 'REVOKED',
      revoked_at: '2026-01-01T00:00:00.000Z',
      rate_limit_tier: 'gold',
      expires_at: '2030-01-01T00:00:00.000Z',
      metadata: { client_cert_sha256: 'ab:cd', team: 'x' },
    });
  });
  afterAll(() => database?.close());

  test('a full load reads every key once, in pages, with only the fields the data plane reads', async () => {
    const pages: KeyRow[][] = [];
    await loadKeyPages(db, (rows) => pages.push(rows), 3);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 3, 0]); // a full last page costs one more (empty) query
    const seen = pages.flat().map((r) => `${r.tenant_id}/${r.id}`);
    expect(new Set(seen).size).toBe(9);
    expect(seen).toEqual(expect.arrayContaining(['acme/key_shared', 'beta/key_shared']));
    const revoked = pages.flat().find((r) => r.lookup === 'hash-shared-beta')!;
    expect(revoked).toMatchObject({
      status: 'REVOKED',
      rate_limit_tier: 'gold',
      expires_at: '2030-01-01T00:00:00.000Z',
      metadata: { client_cert_sha256: 'ab:cd', team: 'x' },
    });
    expect(pages.flat().find((r) => r.lookup === 'hash-0')!.metadata).toBeNull(); // {} is not sent at all
  });

  test('the snapshot holds compact keys, found by hash; a change through the feed makes the same entry', async () => {
    const snapshot = new ConfigSnapshot(db, RESOURCES);
    await snapshot.reload();
    const key = snapshot.lookup('api_key', 'hash-3')!;
    expect(Object.keys(key).sort()).toEqual(KEY_FIELDS);
    expect(key).toMatchObject({ id: 'key_3', tenant_id: 'acme', status: 'ACTIVE', expires_at: null, metadata: {} });
    expect(snapshot.get('api_key', 'key_shared', 'beta')).toMatchObject({
      status: 'REVOKED',
      metadata: { client_cert_sha256: 'ab:cd', team: 'x' },
    });
    expect(snapshot.all('api_key')).toHaveLength(9);
    expect(snapshot.get('tenant', 'acme', null)).toMatchObject({ name: 'acme', status: 'ACTIVE' });

    // revoked in the database, then notified: the refresh reads the whole document and keeps the compact shape
    await db
      .updateTable('resources')
      .set({ data: JSON.stringify({ name: 'k', status: 'REVOKED', metadata: { a: 'b' } }) as never })
      .where('kind', '=', 'api_key')
      .where('id', '=', 'key_3')
      .execute();
    await snapshot.refresh('api_key', 'key_3');
    const refreshed = snapshot.lookup('api_key', 'hash-3')!;
    expect(Object.keys(refreshed).sort()).toEqual(KEY_FIELDS);
    expect(refreshed).toMatchObject({ status: 'REVOKED', metadata: { a: 'b' }, rate_limit_tier: null });
    expect(refreshed).not.toHaveProperty('name');

    // gone from the database: gone by id and by hash
    await db.deleteFrom('resources').where('kind', '=', 'api_key').where('id', '=', 'key_3').execute();
    await snapshot.refresh('api_key', 'key_3');
    expect(snapshot.lookup('api_key', 'hash-3')).toBeUndefined();
    expect(snapshot.get('api_key', 'key_3')).toBeUndefined();
    await snapshot.close();
  });
});

describe('the index of one kind in the snapshot', () => {
  const entry = (id: string, tenant: string | null, v = 1) => ({ id, tenant_id: tenant, v });

  test('an id resolves in the asking tenant, else globally; one owner or several alike', () => {
    const index = new KindIndex();
    index.add(entry('only', 'acme'), 'h-only');
    index.add(entry('shared', null), null);
    index.add(entry('shared', 'acme'), 'h-acme');
    expect(index.get('only', 'acme')).toMatchObject({ tenant_id: 'acme' });
    expect(index.get('only', 'beta')).toBeUndefined();
    expect(index.get('only', null)).toBeUndefined();
    expect(index.get('only')).toMatchObject({ tenant_id: 'acme' });
    expect(index.get('shared', 'acme')).toMatchObject({ tenant_id: 'acme' });
    expect(index.get('shared', 'beta')).toMatchObject({ tenant_id: null });
    expect(index.get('shared', null)).toMatchObject({ tenant_id: null });
    expect(index.get('shared')).toMatchObject({ tenant_id: null }); // the first added
    expect([...index.entries()]).toHaveLength(3);
  });

  test('a replaced or dropped entry is no longer found by its old lookup value; a reused value stays', () => {
    const index = new KindIndex();
    index.add(entry('k1', 'acme', 1), 'hash-1');
    index.add(entry('k1', 'acme', 2), 'hash-2'); // the same (id, owner) again: replaces it
    expect(index.lookup('hash-1')).toBeUndefined();
    expect(index.lookup('hash-2')).toMatchObject({ v: 2 });
    index.add(entry('k2', 'acme'), 'hash-2'); // the value moved to another entry
    index.drop('k1');
    expect(index.lookup('hash-2')).toMatchObject({ id: 'k2' });
    expect(index.get('k1')).toBeUndefined();
    expect([...index.entries()].map((e) => e.id)).toEqual(['k2']);
  });
});
