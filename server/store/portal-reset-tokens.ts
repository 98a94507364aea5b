import { sql } from 'kysely';
import type { Executor } from './schema';

/** Stores a new reset token's hash for a user, expiring at `expiresAt`. */
export async function insertResetToken(
  db: Executor,
  token: { token_hash: string; user_id: string; user_owner: string; expires_at: Date },
): Promise<void> {
  await db.insertInto('portal_reset_tokens').values(token).execute();
}

/**
 * Uses a reset token: marks it used and returns its user, only when it is unused and unexpired. One UPDATE, so two
 * concurrent uses of one token cannot both succeed.
 */
export async function consumeResetToken(
  db: Executor,
  tokenHash: string,
): Promise<{ user_id: string; user_owner: string } | undefined> {
  return db
    .updateTable('portal_reset_tokens')
    .set({ used_at: sql<Date>`now()` })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returning(['user_id', 'user_owner'])
    .executeTakeFirst();
}

/** Ends every other outstanding token of the user (after a reset, or a new request supersedes them). */
export async function dropResetTokens(db: Executor, user: { user_id: string; user_owner: string }): Promise<void> {
  await db
    .deleteFrom('portal_reset_tokens')
    .where('user_id', '=', user.user_id)
    .where('user_owner', '=', user.user_owner)
    .where('used_at', 'is', null)
    .execute();
}
