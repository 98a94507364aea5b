import { sql, type RawBuilder } from 'kysely';
import type { Executor } from './schema';

/**
 * Many rows written in one statement with one parameter: the rows as a JSON array, unpacked by `json_to_recordset`.
 * A multi-row VALUES list costs a parameter per cell (PostgreSQL allows 65,535 a statement, and building and binding
 * them is most of the time of a large insert); this costs one. Works the same on PostgreSQL and PGlite.
 */

/** Column → its SQL type as the record reads it from JSON (`jsonb` takes a nested value as is). Code-defined only. */
export type ColumnTypes = Readonly<Record<string, string>>;

/** Rows per statement: large enough that round trips are few, small enough that one JSON text stays a few MB. */
const ROWS_PER_STATEMENT = 2500;

const SAFE_NAME = /^[a-z_][a-z0-9_]*$/;
const SAFE_TYPE = /^[a-z ]+$/;

/** `insert into table (columns) select … from json_to_recordset($1)`, with `tail` (on conflict, returning) after it. */
export function insertStatement<R>(
  table: string,
  columns: ColumnTypes,
  json: string,
  tail: RawBuilder<unknown> | undefined,
) {
  const names = Object.keys(columns);
  for (const [name, type] of Object.entries(columns))
    if (!SAFE_NAME.test(name) || !SAFE_TYPE.test(type)) throw new Error(`not a column definition: ${name} ${type}`);
  const list = sql.raw(names.join(', '));
  const record = sql.raw(names.map((n) => `${n} ${columns[n]}`).join(', '));
  return sql<R>`insert into ${sql.table(table)} (${list}) select ${list} from json_to_recordset(${json}::json) as r(${record}) ${tail ?? sql``}`;
}

/**
 * Inserts `rows` (each holding a value per column; missing means null), a statement per {@link ROWS_PER_STATEMENT}.
 * Returns the rows `tail` returns, if it has a `returning` clause.
 */
export async function insertJsonRows<R = never>(
  db: Executor,
  table: string,
  columns: ColumnTypes,
  rows: readonly object[],
  tail?: RawBuilder<unknown>,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const json = JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT));
    out.push(...(await insertStatement<R>(table, columns, json, tail).execute(db)).rows);
  }
  return out;
}
