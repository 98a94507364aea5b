import { sql } from 'kysely';
import type { Db, Executor } from './schema';

/** A queued portal mail as the dispatcher takes it. */
export interface ClaimedMail {
  id: string;
  recipient: string;
  subject: string;
  body_sealed: string;
  attempts: number;
}

/** Queues a mail in the caller's transaction: it exists exactly when the change that wrote it committed. */
export async function queueMail(
  db: Executor,
  mail: { id: string; recipient: string; subject: string; body_sealed: string },
): Promise<void> {
  await db.insertInto('portal_mail_outbox').values(mail).execute();
}

/**
 * Takes up to `n` due mails and leases them for `leaseMs` (another instance skips them meanwhile: FOR UPDATE SKIP
 * LOCKED, then the lease moves their next attempt past now).
 */
export function claimDueMail(db: Db, n: number, leaseMs: number): Promise<ClaimedMail[]> {
  return db.transaction().execute(async (tx) => {
    const due = await tx
      .selectFrom('portal_mail_outbox')
      .select(['id', 'recipient', 'subject', 'body_sealed', 'attempts'])
      .where('status', '=', 'PENDING')
      .where('next_attempt_at', '<=', sql<Date>`now()`)
      .orderBy('next_attempt_at')
      .limit(n)
      .forUpdate()
      .skipLocked()
      .execute();
    if (due.length) {
      const lease = new Date(Date.now() + leaseMs);
      const ids = due.map((m) => m.id);
      await tx.updateTable('portal_mail_outbox').set({ next_attempt_at: lease }).where('id', 'in', ids).execute();
    }
    return due;
  });
}

/** A sent mail keeps its row (who was mailed, when) but not its body, which may hold a reset link. */
export async function markMailSent(db: Db, id: string, attempts: number): Promise<void> {
  await db
    .updateTable('portal_mail_outbox')
    .set({ status: 'SENT', attempts, body_sealed: '', sent_at: new Date(), last_error: null })
    .where('id', '=', id)
    .execute();
}

/** A failed attempt: due again at `next`, or given up (FAILED, body blanked) when `next` is null. */
export async function markMailFailed(db: Db, id: string, attempts: number, error: string, next: Date | null) {
  await db
    .updateTable('portal_mail_outbox')
    .set(
      next
        ? { attempts, last_error: error, next_attempt_at: next }
        : { attempts, last_error: error, status: 'FAILED', body_sealed: '' },
    )
    .where('id', '=', id)
    .execute();
}

/** Where a mail stands (tests, operators). */
export function mailStatus(db: Db, id: string) {
  return db
    .selectFrom('portal_mail_outbox')
    .select(['status', 'attempts', 'last_error', 'body_sealed'])
    .where('id', '=', id)
    .executeTakeFirst();
}
