import { createHmac } from 'node:crypto';
import type { Caller } from '../control/caller';
import type { Gateway } from '../gateway';
import { generateToken, hashToken, safeEqual } from '../lib/secrets';
import type { AdminRole } from '../resources/token';
import { getResource, ownerOf, type StoredResource } from '../store/resource-store';
import { deleteSessionsOf, deleteUserSession, findUserSession, insertUserSession } from '../store/user-sessions';

/** The prefix of a console session token: told apart from a PAT (`ptc_pat_`) before any lookup. */
export const SESSION_PREFIX = 'ptc_ses_';

/** How long a console sign-in lasts: a working day, after which the user signs in again. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

/** Keyed with the master key, so the stored value tells nothing about the password hash it stands for. */
function fingerprint(gw: Gateway, storedHash: string): string {
  return createHmac('sha256', gw.keys.masterKey).update(`console-pwv:${storedHash}`).digest('base64url');
}

/**
 * Starts a console session for a signed-in user: a random opaque token, of which only the SHA-256 hash is stored,
 * with its expiry and a fingerprint of the user's password hash (a new password, with its new salt, ends it).
 */
export async function startSession(gw: Gateway, user: StoredResource): Promise<{ token: string; expiresAt: Date }> {
  const token = generateToken(SESSION_PREFIX);
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await insertUserSession(gw.db, {
    token_hash: hashToken(token),
    user_id: user.id,
    user_owner: ownerOf(user.tenant_id),
    password_fingerprint: fingerprint(gw, user.secret ?? ''),
    expires_at: expiresAt,
  });
  return { token, expiresAt };
}

/**
 * The caller a session token acts as: the user as stored now, with their current role and tenant. A deleted or
 * disabled user, or one whose password changed since sign-in, has no session any more (and their rows are dropped).
 */
export async function sessionCaller(gw: Gateway, token: string): Promise<Caller | undefined> {
  const session = await findUserSession(gw.db, hashToken(token));
  if (!session) return undefined;
  const tenantId = session.user_owner === '' ? null : session.user_owner;
  const user = await getResource(gw.db, { kind: 'user', id: session.user_id, tenant_id: tenantId });
  const valid =
    user?.secret && user.data.enabled === true && safeEqual(fingerprint(gw, user.secret), session.password_fingerprint);
  if (!user || !valid) {
    await deleteSessionsOf(gw.db, session);
    return undefined;
  }
  return {
    type: 'user',
    id: user.id,
    name: String(user.data.email),
    role: user.data.role as AdminRole,
    tenantId: user.tenant_id,
  };
}

/** Signs a session out; false when the token named none. */
export const endSession = (gw: Gateway, token: string): Promise<boolean> => deleteUserSession(gw.db, hashToken(token));
