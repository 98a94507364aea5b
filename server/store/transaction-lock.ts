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
