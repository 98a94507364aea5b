import { randomUUID, type KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import type { AppendHook } from '../store/append-hook';
import type { AuditActor, Db, Executor, Tx } from '../store/schema';
import { json } from '../store/schema';
import { chainHash, GENESIS_HASH, signHash, signHead, type AuditEvent, type AuditHead } from './chain';

/** What a mutation says about itself; the log adds id, seq, time and the chain fields. */
export interface AuditEntry {
  type: string;
  actor: AuditActor;
  tenant_id: string | null;
  resource: { kind: string; id: string } | null;
  changes?: unknown;
  trace_id?: string | null;
}

export interface AuditFilter {
  tenant_id?: string;
  type?: string;
  from?: string;
  to?: string;
}

const CHAIN_LOCK = 7_351_220_914;

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

export function rowToEvent(row: Row): AuditEvent {
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

/** Appends signed, hash-chained events. Writers serialize on an advisory lock held until their transaction ends. */
export class AuditLog {
  private readonly hooks: AppendHook[] = [];
  constructor(private readonly signingKey: KeyObject) {}

  /** Every mutation appends events, so this is where anything that follows a change hooks in, atomically with it. */
  onAppend(hook: AppendHook): void {
    this.hooks.push(hook);
  }

  /** Appends events inside `tx`, so they commit or roll back with the change they describe. */
  async append(tx: Tx, entries: AuditEntry[]): Promise<AuditEvent[]> {
    if (entries.length === 0) return [];
    await sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`.execute(tx);
    const last = await lastLink(tx);
    let seq = last ? Number(last.seq) : 0;
    let prevHash = last?.hash ?? GENESIS_HASH;
    const events: AuditEvent[] = [];
    for (const entry of entries) {
      seq += 1;
      const body = {
        id: `evt_${randomUUID()}`,
        seq,
        created_at: new Date().toISOString(),
        type: entry.type,
        actor: entry.actor,
        tenant_id: entry.tenant_id,
        resource: entry.resource,
        changes: entry.changes ?? null,
        trace_id: entry.trace_id ?? null,
      };
      const hash = chainHash(prevHash, body);
      events.push({ ...body, prev_hash: prevHash, hash, signature: signHash(this.signingKey, hash) });
      prevHash = hash;
    }
    await tx
      .insertInto('audit_events')
      .values(
        events.map((e) => ({
          seq: e.seq,
          id: e.id,
          created_at: e.created_at,
          type: e.type,
          actor: json(e.actor),
          tenant_id: e.tenant_id,
          resource_kind: e.resource?.kind ?? null,
          resource_id: e.resource?.id ?? null,
          changes: json(e.changes),
          trace_id: e.trace_id,
          prev_hash: e.prev_hash,
          hash: e.hash,
          signature: e.signature,
        })),
      )
      .execute();
    await this.writeHead(tx, seq, prevHash);
    for (const hook of this.hooks) await hook(tx, events);
    return events;
  }

  /**
   * Signs the head of a chain that has none yet (it predates the head, which a migration cannot sign). A head that
   * exists is never rewritten here, even when it disagrees with the events: that is for verify to report.
   */
  async ensureHead(db: Db): Promise<void> {
    await db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`.execute(tx);
      if (await readHead(tx)) return;
      const last = await lastLink(tx);
      if (last) await this.writeHead(tx, Number(last.seq), last.hash);
    });
  }

  private async writeHead(tx: Tx, seq: number, hash: string): Promise<void> {
    const head = { id: 1, ...signHead(this.signingKey, seq, hash) };
    await tx
      .insertInto('audit_head')
      .values(head)
      .onConflict((oc) => oc.column('id').doUpdateSet({ seq: head.seq, hash: head.hash, signature: head.signature }))
      .execute();
  }
}

/** The newest event's seq and hash: where the next event links on. */
const lastLink = (tx: Tx) =>
  tx.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();

/** The chain's signed head, if it has one. */
export async function readHead(db: Executor): Promise<AuditHead | undefined> {
  const row = await db
    .selectFrom('audit_head')
    .select(['seq', 'hash', 'signature'])
    .where('id', '=', 1)
    .executeTakeFirst();
  return row && { seq: Number(row.seq), hash: row.hash, signature: row.signature };
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
