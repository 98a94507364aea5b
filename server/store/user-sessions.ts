import { sql } from 'kysely';
import type { Executor } from './schema';

export interface UserSessionRow {
  user_id: string;
  user_owner: string;
  password_fingerprint: string;
}

/** Stores a new session (its token's hash) and sweeps the expired ones, so the table never outgrows live sessions. */
export async function insertUserSession(
  db: Executor,
  session: UserSessionRow & { token_hash: string; expires_at: Date },
): Promise<void> {
  await db
    .deleteFrom('user_sessions')
    .where('expires_at', '<=', sql<Date>`now()`)
    .execute();
  await db.insertInto('user_sessions').values(session).execute();
}

/** The unexpired session of a token hash, if any. */
export async function findUserSession(db: Executor, tokenHash: string): Promise<UserSessionRow | undefined> {
  return db
    .selectFrom('user_sessions')
    .select(['user_id', 'user_owner', 'password_fingerprint'])
    .where('token_hash', '=', tokenHash)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
}

/** Ends one session; true when there was one. */
export async function deleteUserSession(db: Executor, tokenHash: string): Promise<boolean> {
  const result = await db.deleteFrom('user_sessions').where('token_hash', '=', tokenHash).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Ends every session of a user (a password change or a disabled user found at use). */
export async function deleteSessionsOf(db: Executor, user: { user_id: string; user_owner: string }): Promise<void> {
  await db
    .deleteFrom('user_sessions')
    .where('user_id', '=', user.user_id)
    .where('user_owner', '=', user.user_owner)
    .execute();
}
