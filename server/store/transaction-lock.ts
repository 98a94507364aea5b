import { sql } from 'kysely';
import type { Tx } from './schema';

/** Takes a PostgreSQL advisory lock held until `tx` ends: transactions taking the same key run one after another. */
export async function lockUntilTransactionEnds(tx: Tx, key: number): Promise<void> {
  await sql`select pg_advisory_xact_lock(${key})`.execute(tx);
}

/** The same, keyed by a text (hashed by PostgreSQL to a 64-bit key): one lock per kind and id, say. */
export async function lockTextUntilTransactionEnds(tx: Tx, key: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(tx);
}

/** Many text-keyed locks in one statement, taken in sorted order so two such callers cannot deadlock each other. */
export async function lockTextsUntilTransactionEnds(tx: Tx, keys: readonly string[]): Promise<void> {
  const sorted = [...new Set(keys)].sort();
  for (let i = 0; i < sorted.length; i += 1000) {
    const rows = sql.join(sorted.slice(i, i + 1000).map((key) => sql`(${key}::text)`));
    await sql`select pg_advisory_xact_lock(hashtextextended(k, 0)) from (values ${rows}) as v(k)`.execute(tx);
  }
}
