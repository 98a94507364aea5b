import { randomUUID, type KeyObject } from 'node:crypto';
import type { AppendHook, UnlinkedHook } from '../store/append-hook';
import {
  insertAuditEvents,
  insertAuditEventsWithHead,
  lastLink,
  lockChain,
  lockHead,
  readHead,
  writeHead,
} from '../store/audit-events';
import type { AuditActor, Db, Tx } from '../store/schema';
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
 * last, once its own changes are made (and hooks that need no link, such as the change notification, have run), and
 * holds it for two round trips (lock and read the head; insert the events and the new head in one statement), the
 * hooks that need the events (the webhook outbox), then the commit.
 */
export class AuditLog {
  private readonly hooks: AppendHook[] = [];
  private readonly unlinkedHooks: UnlinkedHook[] = [];
  constructor(private readonly signingKey: KeyObject) {}

  /** Every mutation appends events, so this is where anything that follows a change hooks in, atomically with it. */
  onAppend(hook: AppendHook | UnlinkedHook): void {
    if (typeof hook === 'function') this.hooks.push(hook);
    else this.unlinkedHooks.push(hook);
  }

  /**
   * Appends events inside `tx`, so they commit or roll back with the change they describe. Many events are hashed,
   * signed and stored a slice at a time, each slice's INSERT running while the next one is hashed and signed.
   */
  async append(tx: Tx, entries: AuditEntry[]): Promise<AuditEvent[]> {
    if (entries.length === 0) return [];
    for (const hook of this.unlinkedHooks) await hook.beforeLink(tx, entries);
    let end = await linkPoint(tx);
    const events: AuditEvent[] = [];
    let storing: Promise<void> | undefined;
    try {
      for (let i = 0; i < entries.length; i += SLICE) {
        const slice = linked(end, entries.slice(i, i + SLICE));
        for (const event of slice) event.signature = signHash(this.signingKey, event.hash);
        end = slice[slice.length - 1]!;
        await storing;
        // the last slice carries the new head in the same statement
        storing =
          i + SLICE >= entries.length
            ? insertAuditEventsWithHead(tx, slice, signHead(this.signingKey, end.seq, end.hash))
            : insertAuditEvents(tx, slice);
        events.push(...slice);
      }
      await storing;
    } catch (err) {
      await storing?.catch(() => undefined); // settled before the transaction ends, never left unhandled
      throw err;
    }
    for (const hook of this.hooks) await hook(tx, events);
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
