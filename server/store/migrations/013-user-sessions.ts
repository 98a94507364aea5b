import { sql, type Kysely } from 'kysely';

/**
 * The console's email-and-password sign-ins: one row per session, keyed by the SHA-256 hash of its opaque token (the
 * token itself is only ever handed to the signed-in client). A keyed fingerprint of the user's password hash at
 * sign-in lets a password change end the session; rows past `expires_at` are refused and swept.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('user_sessions')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('user_owner', 'text', (c) => c.notNull())
    .addColumn('password_fingerprint', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('user_sessions_user').on('user_sessions').columns(['user_owner', 'user_id']).execute();
  await db.schema.createIndex('user_sessions_expiry').on('user_sessions').column('expires_at').execute();
}
