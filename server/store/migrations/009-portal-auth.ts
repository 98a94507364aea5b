import { sql, type Kysely } from 'kysely';

/**
 * The tenant portal's sign-in state: password reset tokens (only their SHA-256 hashes; single use, expiring) and the
 * mail outbox (a message is queued in the transaction that needs it, and sent by the mail dispatcher, so a mail is
 * never lost to a crash and never sent for a change that rolled back). A queued body may hold a reset link: it is
 * stored sealed under the master key, and blanked once sent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('portal_reset_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('user_owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('portal_reset_tokens_user')
    .on('portal_reset_tokens')
    .columns(['user_owner', 'user_id'])
    .execute();

  await db.schema
    .createTable('portal_mail_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('body_sealed', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('PENDING'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('sent_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('portal_mail_outbox_due')
    .on('portal_mail_outbox')
    .columns(['status', 'next_attempt_at'])
    .execute();
}
