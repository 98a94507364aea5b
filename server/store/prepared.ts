import { sql, type RawBuilder } from 'kysely';

/**
 * A statement the gateway sends over and over whose planning costs as much as its work (the audit append: a dozen
 * CTEs planned in about 0.2 ms to run in 0.1) carries this comment at its end, and on PostgreSQL every connection
 * prepares it once and then only binds and runs it (see dialects/postgres.ts). Its text must come from a small set:
 * each text is a prepared statement on every connection for as long as it lives.
 */
export const PREPARED_MARK = '/* prepared */';

/** `statement` marked to be prepared. */
export const prepared = <T>(statement: RawBuilder<T>): RawBuilder<T> => sql<T>`${statement} ${sql.raw(PREPARED_MARK)}`;
