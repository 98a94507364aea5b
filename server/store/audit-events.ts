import { sql, type RawBuilder } from 'kysely';
import type { AuditEvent, AuditHead } from '../audit/chain';
import type { AppendPart } from './append-hook';
import type { AuditActor, Executor, Tx } from './schema';
import { insertStatement } from './json-rows';
import { prepared } from './prepared';

/** The audit chain's two tables: `audit_events` (append-only) and `audit_head` (its signed newest link). */

export interface AuditFilter {
  tenant_id?: string;
  type?: string;
  from?: string;
  to?: string;
}

/**
 * Writers of a chain that has no head yet (an empty one) serialize on this advisory lock, held until their
 * transaction ends; once the head exists, its row lock is the chain's lock (see {@link lockHead}).
 */
const CHAIN_LOCK = 7_351_220_914;

export async function lockChain(tx: Tx): Promise<void> {
  await sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`.execute(tx);
}

/**
 * Locks the chain's head row until the transaction ends and reads it, in one round trip: `for update` waits for a
 * writer holding it and then returns the row as that writer committed it (a later statement's snapshot is not
 * needed). Undefined when the chain has no head yet: the caller then serializes on {@link lockChain} and asks again.
 */
export async function lockHead(tx: Tx): Promise<{ seq: number; hash: string } | undefined> {
  const row = await tx
    .selectFrom('audit_head')
    .select(['seq', 'hash'])
    .where('id', '=', 1)
    .forUpdate()
    .executeTakeFirst();
  return row && { seq: Number(row.seq), hash: row.hash };
}

type Row = {
  seq: number | string;
  id: string;
  created_at: string;
  type: string;
  actor: AuditActor;
  tenant_id: string | null;
  resource_kind: string | null;
  resource_id: string | null;
  changes: unknown;
  trace_id: string | null;
  prev_hash: string;
  hash: string;
  signature: string;
};

function rowToEvent(row: Row): AuditEvent {
  return {
    id: row.id,
    seq: Number(row.seq),
    created_at: row.created_at,
    type: row.type,
    actor: row.actor,
    tenant_id: row.tenant_id,
    resource: row.resource_kind ? { kind: row.resource_kind, id: row.resource_id ?? '' } : null,
    changes: row.changes ?? null,
    trace_id: row.trace_id,
    prev_hash: row.prev_hash,
    hash: row.hash,
    signature: row.signature,
  };
}

/** The audit_events columns as a batch insert reads them from JSON. */
const EVENT_COLUMNS = {
  seq: 'bigint',
  id: 'text',
  created_at: 'text',
  type: 'text',
  actor: 'jsonb',
  tenant_id: 'text',
  resource_kind: 'text',
  resource_id: 'text',
  changes: 'jsonb',
  trace_id: 'text',
  prev_hash: 'text',
  hash: 'text',
  signature: 'text',
};

const eventRows = (events: readonly AuditEvent[]) =>
  events.map(({ resource, ...e }) => ({
    ...e,
    resource_kind: resource?.kind ?? null,
    resource_id: resource?.id ?? null,
  }));

/**
 * The parts that ride on an append (see {@link AppendPart}), as CTEs `part_<i>` after the append's own, and the
 * count of each one's rows in the final select: counting is what runs a part that is a plain SELECT.
 */
function riding(parts: readonly AppendPart[], events: readonly AuditEvent[], when: RawBuilder<boolean>) {
  const built = parts.map((part, i) => ({ name: sql.raw(`part_${i}`), statement: part.statement(events, when) }));
  const used = built.filter((b) => b.statement);
  return {
    ctes: sql.join(
      used.map((b) => sql`, ${b.name} as (${b.statement})`),
      sql``,
    ),
    counts: sql.join(
      used.map((b) => sql`, (select count(*)::int from ${b.name}) as ${b.name}`),
      sql``,
    ),
    /** Rows per part, in the parts' order (0 for a part that had nothing to do). */
    read: (row: Record<string, unknown> | undefined) => built.map((_, i) => Number(row?.[`part_${i}`] ?? 0)),
  };
}

/**
 * Writes events, with the parts riding on them, in one statement (the caller's slice: at most a few thousand, see
 * AuditLog.append); the chain's last slice carries its new `head` too (one round trip fewer while the chain is
 * locked). Returns the rows of each part.
 */
export async function insertAuditEvents(
  tx: Tx,
  events: readonly AuditEvent[],
  parts: readonly AppendPart[],
  head?: AuditHead,
): Promise<number[]> {
  const events_ = insertStatement('audit_events', EVENT_COLUMNS, JSON.stringify(eventRows(events)), undefined);
  const head_ = head
    ? sql`, head as (insert into audit_head (id, seq, hash, signature)
        values (1, ${head.seq}, ${head.hash}, ${head.signature})
        on conflict (id) do update set seq = excluded.seq, hash = excluded.hash, signature = excluded.signature)`
    : sql``;
  const along = riding(parts, events, sql<boolean>`true`);
  const { rows } = await sql<Record<string, unknown>>`with appended as (${events_})${head_}${along.ctes}
    select 1 as appended${along.counts}`.execute(tx);
  return along.read(rows[0]);
}

/**
 * Writes events linked on `expected`, the new head and the parts riding on them in one statement, if the head is
 * still `expected`: the head's row is locked whatever it holds (waiting for a writer that holds it) and changed only
 * where it is `expected` once that writer has committed; the events and parts are written only if it was. The
 * comparison is in the SET, not the WHERE: PostgreSQL filters rows by their version in the statement's snapshot
 * before it waits for one, so `where seq = expected` would pass over a head that a write still in flight is about to
 * make `expected` (the write this process sent just before, which this one links on). Nothing is written either
 * when a part's precondition does not hold. After a miss of the head (moved, or missing) the caller locks the head
 * (in a transaction, this statement already holds it) and reads it.
 */
export async function appendIfHeadIs(
  db: Executor,
  expected: { seq: number; hash: string },
  events: readonly AuditEvent[],
  head: AuditHead,
  parts: readonly AppendPart[],
  prepare = false,
): Promise<PredictedAppend> {
  const moved = sql<boolean>`exists (select 1 from moved where moved)`;
  const isExpected = sql`seq = ${expected.seq} and hash = ${expected.hash}`;
  const conditions = parts.flatMap((part) => (part.precondition ? [sql`coalesce(${part.precondition}, false)`] : []));
  // the rows a change needs unchanged are locked and read before the head: the order every writer locks in (its own
  // rows, then the chain), so no two writers wait for each other
  const checked = conditions.length
    ? sql`checked as materialized (select ${sql.join(conditions, sql` and `)} as ok), `
    : sql``;
  const holds = conditions.length ? sql` and (select ok from checked)` : sql``;
  const events_ = insertStatement(
    'audit_events',
    EVENT_COLUMNS,
    JSON.stringify(eventRows(events)),
    sql`where ${moved}`,
  );
  const along = riding(parts, events, moved);
  const statement = sql<Record<string, unknown>>`with ${checked}moved as (
      update audit_head set
        seq = case when ${isExpected}${holds} then ${head.seq} else seq end,
        hash = case when ${isExpected}${holds} then ${head.hash} else hash end,
        signature = case when ${isExpected}${holds} then ${head.signature} else signature end
      where id = 1
      returning seq = ${head.seq} and hash = ${head.hash} as moved, ${isExpected} as stayed
    ), appended as (${events_})${along.ctes}
    select (select count(*)::int from moved where moved) as moved,
      (select count(*)::int from moved where stayed) as stayed${along.counts}`;
  const { rows } = await (prepare ? prepared(statement) : statement).execute(db);
  if (rows[0]?.moved === 1) return { partRows: along.read(rows[0]) };
  return { missed: rows[0]?.stayed === 1 ? 'precondition' : 'head' };
}

/**
 * What an append on the predicted head did: the rows of each part, or why it wrote nothing: the head was elsewhere
 * (or missing), or it was where predicted and a part's precondition did not hold.
 */
export type PredictedAppend = { partRows: number[] } | { missed: 'head' | 'precondition' };

/** The newest event's seq and hash: where the next event links on. */
export async function lastLink(tx: Tx): Promise<{ seq: number; hash: string } | undefined> {
  const row = await tx
    .selectFrom('audit_events')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && { seq: Number(row.seq), hash: row.hash };
}

/** The chain's signed head, if it has one. */
export async function readHead(db: Executor): Promise<AuditHead | undefined> {
  const row = await db
    .selectFrom('audit_head')
    .select(['seq', 'hash', 'signature'])
    .where('id', '=', 1)
    .executeTakeFirst();
  return row && { seq: Number(row.seq), hash: row.hash, signature: row.signature };
}

export async function writeHead(tx: Tx, head: AuditHead): Promise<void> {
  await tx
    .insertInto('audit_head')
    .values({ id: 1, ...head })
    .onConflict((oc) => oc.column('id').doUpdateSet({ seq: head.seq, hash: head.hash, signature: head.signature }))
    .execute();
}

/** Events matching `filter`, newest first, after the `before` seq cursor. */
export async function listAuditEvents(
  db: Executor,
  filter: AuditFilter,
  limit: number,
  before?: number,
): Promise<AuditEvent[]> {
  let q = db.selectFrom('audit_events').selectAll();
  if (filter.tenant_id) q = q.where('tenant_id', '=', filter.tenant_id);
  if (filter.type) q = q.where('type', '=', filter.type);
  if (filter.from) q = q.where('created_at', '>=', filter.from);
  if (filter.to) q = q.where('created_at', '<=', filter.to);
  if (before !== undefined) q = q.where('seq', '<', before as never);
  const rows = await q.orderBy('seq', 'desc').limit(limit).execute();
  return rows.map((r) => rowToEvent(r as Row));
}

/** The whole chain in ascending order, for verification. */
export async function readChain(db: Executor): Promise<AuditEvent[]> {
  const rows = await db.selectFrom('audit_events').selectAll().orderBy('seq', 'asc').execute();
  return rows.map((r) => rowToEvent(r as Row));
}
