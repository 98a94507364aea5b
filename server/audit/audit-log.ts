import { randomUUID, type KeyObject } from 'node:crypto';
import type { AppendPart } from '../store/append-hook';
import {
  appendIfHeadIs,
  insertAuditEvents,
  lastLink,
  lockChain,
  lockHead,
  readHead,
  writeHead,
} from '../store/audit-events';
import type { AuditActor, Db, Executor, Tx } from '../store/schema';
import { chainHash, GENESIS_HASH, signHash, signHead, type AuditEvent } from './chain';

/** What a mutation says about itself; the log adds id, seq, time and the chain fields. */
export interface AuditEntry {
  type: string;
  actor: AuditActor;
  tenant_id: string | null;
  resource: { kind: string; id: string } | null;
  changes?: unknown;
  trace_id?: string | null;
}

/**
 * Appends hash-chained events, each signed (the contract: `signature` = Ed25519 over `hash`, so any single exported
 * event verifies on its own), and signs the head, which vouches for the chain's end. Writers serialize on the chain's
 * lock (the head's row), held until their transaction ends: so that it is held as briefly as can be, a write takes it
 * last, once its own changes are made, and holds it for one statement (update the head where it is still the one this
 * process last linked on, and insert the events; or, when it is not, lock and read it, then insert) and the commit.
 * What follows every change (the change notification, the webhook outbox) rides on that statement as parts of it.
 */
export class AuditLog {
  private readonly parts: AppendPart[] = [];
  /**
   * The head as this process last wrote it (maybe not committed yet): a write links on it and writes, in one
   * statement, only if the head is still that when the statement runs (see {@link appendIfHeadIs}), saving the round
   * trip that locks and reads the head. A miss (another process wrote, or the write it linked on rolled back) writes
   * nothing and falls back to locking and reading the head.
   */
  private predicted: { seq: number; hash: string } | undefined;
  /** One-statement writes gathered while they wait for their turn, to go in one statement (see appendWith). */
  private group: Group | undefined;
  /**
   * Settles when the last predicted write's statement has its answer. The next one waits for it, then links on the
   * head that write left: its statement then reaches the database after the one it links on (sent at once, it could
   * overtake it and miss), and waits there for the head's row, which that write holds until it commits. So this
   * process's concurrent writes hold the chain's lock for one statement and the commit each, and the wait here costs
   * nothing the lock would not: it ends before the write it waits for lets go of the row.
   */
  private lastAnswer: Promise<void> = Promise.resolve();
  constructor(private readonly signingKey: KeyObject) {}

  /**
   * Every mutation appends events, so this is where anything that follows a change hooks in, atomically with it: as
   * a part of the statement that writes the events.
   */
  onAppend(part: AppendPart): void {
    this.parts.push(part);
  }

  /**
   * Appends events inside `tx`, so they commit or roll back with the change they describe. Many events are hashed,
   * signed and stored a slice at a time, each slice's INSERT running while the next one is hashed and signed; each
   * slice's statement carries the parts for its own events (so no statement grows with the size of an import).
   */
  async append(tx: Tx, entries: AuditEntry[]): Promise<AuditEvent[]> {
    if (entries.length === 0) return [];
    const written = (await this.appendOnPredicted(tx, entries)) ?? (await this.appendLocked(tx, entries));
    this.afterAppend(written.partRows);
    return written.events;
  }

  /**
   * Appends events with the change they describe (`change`, riding first among the parts, on the same condition) in
   * one statement outside any transaction: the statement is the transaction, so a change that needs no checks in the
   * database costs one round trip instead of four (BEGIN, its write, the append, COMMIT). Writes that arrive while
   * the one before them is on its way go together, in the statement of the first of them (group commit: one commit
   * for all of them instead of one each, each waiting for the last). Only on the predicted head: undefined, with
   * nothing written, when there is none, the head moved or a change's precondition (a row it read unchanged) does not
   * hold, and the caller then makes the change the usual way (a transaction, and {@link append}); likewise for every
   * write of a group the database refuses, so each one's error is its own. A lone write's refusal is its error.
   */
  async appendWith(db: Db, entries: AuditEntry[], change: AppendPart): Promise<AuditEvent[] | undefined> {
    if (entries.length === 0 || entries.length > SLICE) return undefined;
    const open = this.group;
    const sameRow = change.row !== undefined && open?.changes.some((c) => c.row === change.row);
    if (open && !sameRow && open.entries.length + entries.length <= SLICE) {
      const from = open.entries.length;
      open.entries.push(...entries);
      open.changes.push(change);
      return (await open.written)?.slice(from, from + entries.length);
    }
    // a connection first, then a place among this process's chained writes: the writes before this one hold theirs
    // (in transactions) until their turn, and one waiting in line for a connection could leave none to take its turn
    return db.connection().execute(async (conn) => {
      let settle!: (events: AuditEvent[] | undefined) => void;
      const group: Group = {
        entries: [...entries],
        changes: [change],
        written: new Promise((resolve) => (settle = resolve)),
      };
      this.group = group;
      const close = () => {
        if (this.group === group) this.group = undefined;
      };
      try {
        const written = await this.appendOnPredicted(conn, group.entries, group.changes, close);
        if (written) this.afterAppend(written.partRows.slice(group.changes.length));
        settle(written?.events);
        return written?.events.slice(0, entries.length);
      } catch (err) {
        settle(undefined);
        if (group.changes.length === 1) throw err;
        return undefined;
      } finally {
        close();
      }
    });
  }

  /** Whether a part riding on every append reads resources of `kind` (a write of one cannot ride beside it). */
  partsRead(kind: string): boolean {
    return this.parts.some((part) => part.reads?.includes(kind));
  }

  private afterAppend(partRows: number[]): void {
    this.parts.forEach((part, i) => part.afterAppend?.(partRows[i]!));
  }

  /**
   * Links on the predicted head and writes in one statement, `first` riding before the registered parts (their rows
   * in that order); undefined (nothing written) when the head moved.
   */
  private async appendOnPredicted(
    db: Executor,
    entries: AuditEntry[],
    first: AppendPart[] = [],
    onTurn: () => void = () => {},
  ): Promise<Written | undefined> {
    if (entries.length > SLICE) return undefined;
    const previous = this.lastAnswer;
    let answered!: () => void;
    this.lastAnswer = new Promise((resolve) => (answered = resolve));
    let written: Written | undefined;
    let stayed = false;
    try {
      await previous;
      onTurn(); // what `entries` and `first` hold now is what this statement writes
      const expected = this.predicted;
      if (!expected) return undefined;
      const events = this.signed(linked(expected, entries));
      const end = events[events.length - 1]!;
      const head = signHead(this.signingKey, end.seq, end.hash);
      // prepared where its text is one of a few: at most one change riding along (a group's varies with its members)
      const prepare = first.length <= 1;
      const result = await appendIfHeadIs(db, expected, events, head, [...first, ...this.parts], prepare);
      if ('partRows' in result) written = { events, partRows: result.partRows };
      else stayed = result.missed === 'precondition';
      return written;
    } finally {
      // before the next write links: on what this one wrote, on the same head when a precondition stopped this one,
      // or (the head missed, an error) on nothing, so that it locks and reads the head
      if (written) this.predicted = written.events[written.events.length - 1]!;
      else if (!stayed && this.predicted) this.predicted = undefined;
      answered();
    }
  }

  /** Locks the head, reads it, links on it and writes (a slice at a time, for many events). */
  private async appendLocked(tx: Tx, entries: AuditEntry[]): Promise<Written> {
    let end = await linkPoint(tx);
    const events: AuditEvent[] = [];
    const partRows = this.parts.map(() => 0);
    const add = (rows: number[]) => rows.forEach((n, i) => (partRows[i]! += n));
    let storing: Promise<void> | undefined;
    try {
      for (let i = 0; i < entries.length; i += SLICE) {
        const slice = this.signed(linked(end, entries.slice(i, i + SLICE)));
        end = slice[slice.length - 1]!;
        await storing;
        // the last slice carries the new head in the same statement
        const head = i + SLICE >= entries.length ? signHead(this.signingKey, end.seq, end.hash) : undefined;
        storing = insertAuditEvents(tx, slice, this.parts, head).then(add);
        events.push(...slice);
      }
      await storing;
    } catch (err) {
      await storing?.catch(() => undefined); // settled before the transaction ends, never left unhandled
      throw err;
    }
    this.predicted = end;
    return { events, partRows };
  }

  private signed(events: AuditEvent[]): AuditEvent[] {
    for (const event of events) event.signature = signHash(this.signingKey, event.hash);
    return events;
  }

  /**
   * Signs the head of a chain that has none yet (it predates the head, which a migration cannot sign). A head that
   * exists is never rewritten here, even when it disagrees with the events: that is for verify to report.
   */
  async ensureHead(db: Db): Promise<void> {
    await db.transaction().execute(async (tx) => {
      await lockChain(tx);
      if (await readHead(tx)) return;
      const last = await lastLink(tx);
      if (last) await writeHead(tx, signHead(this.signingKey, last.seq, last.hash));
    });
  }
}

/**
 * Takes the chain's lock and returns where the next event links on. The head's row lock and read are one statement;
 * a chain without a head (empty, or from before heads, until start-up signs one) serializes on the advisory lock and
 * then asks again: a writer that found the head meanwhile holds its row, so the second ask waits for that writer.
 */
async function linkPoint(tx: Tx): Promise<{ seq: number; hash: string }> {
  const head = await lockHead(tx);
  if (head) return head;
  await lockChain(tx);
  const last = (await lockHead(tx)) ?? (await lastLink(tx));
  return { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS_HASH };
}

/** One-statement writes waiting for their turn together: the events' entries and the changes, in arrival order. */
interface Group {
  entries: AuditEntry[];
  changes: AppendPart[];
  /** Every event the group wrote, in order; undefined when it wrote nothing. */
  written: Promise<AuditEvent[] | undefined>;
}

/** The events an append wrote, and the rows each part returned (in the order the parts were registered). */
interface Written {
  events: AuditEvent[];
  partRows: number[];
}

/** Events hashed and stored per slice (see `append`). */
const SLICE = 1000;

/** The entries as events chained on `end`, not signed yet. */
function linked(end: { seq: number; hash: string }, entries: AuditEntry[]): AuditEvent[] {
  let { seq, hash: prevHash } = end;
  return entries.map((entry) => {
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
    const prev = prevHash;
    prevHash = chainHash(prev, body);
    return { ...body, prev_hash: prev, hash: prevHash, signature: '' };
  });
}
