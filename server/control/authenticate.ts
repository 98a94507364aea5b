import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { hashToken, safeEqual } from '../lib/secrets';
import type { AdminRole } from '../resources/token';
import { findResourceByLookup } from '../store/resource-store';
import { SESSION_PREFIX, sessionCaller } from '../users/sessions';
import { AdminRateLimit } from './admin-rate-limit';
import type { Caller } from './caller';
import { CALLER } from './request-state';

/**
 * Resolves a bearer token to a caller: the bootstrap owner token, an active, unexpired personal access token, or a
 * live console session of a user (email and password sign-in, server/users/sessions.ts).
 */
export async function authenticate(gw: Gateway, token: string): Promise<Caller | undefined> {
  const hash = hashToken(token);
  if (safeEqual(hash, gw.bootstrapTokenHash))
    return { type: 'token', id: 'bootstrap', name: 'bootstrap owner token', role: 'owner', tenantId: null };
  if (token.startsWith(SESSION_PREFIX)) return sessionCaller(gw, token);
  if (!token.startsWith('ptc_pat_')) return undefined;
  const row = await findResourceByLookup(gw.db, 'token', hash);
  if (!row || !row.secret || !safeEqual(row.secret, hash)) return undefined;
  const data = row.data as { name: string; role: AdminRole; status: string; expires_at: string | null };
  if (data.status !== 'ACTIVE') return undefined;
  if (data.expires_at && Date.parse(data.expires_at) <= Date.now()) return undefined;
  return { type: 'token', id: row.id, name: data.name, role: data.role, tenantId: row.tenant_id };
}

/** The token of an `Authorization: Bearer <token>` header, if it is one. */
export const bearerToken = (header: string | undefined): string | undefined =>
  /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];

/**
 * Requires `Authorization: Bearer <token>` on every route of the surface it is added to, and limits each caller's
 * rate: a token by its id, a request without a valid token by its client address (so guessing tokens is slow too).
 */
export function requireBearer(app: FastifyInstance, gw: Gateway): void {
  const limit = new AdminRateLimit(gw.config.adminRateLimit);
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request.headers.authorization);
    const caller = token ? await authenticate(gw, token) : undefined;
    limit.check(caller ? `token:${caller.id}` : `ip:${request.ip}`);
    if (!caller)
      throw new ApiError(
        'UNAUTHORIZED',
        token ? 'The bearer token is not valid, revoked or expired' : 'Missing Authorization: Bearer <token> header',
      );
    request[CALLER] = caller;
  });
}

/** The name admin route plugins list among their dependencies: none of their routes may serve an anonymous caller. */
export const BEARER_AUTH = 'portico-bearer-auth';

/** requireBearer as a plugin: every route registered after it in the same context needs a bearer token. */
export const bearerAuth = fp<{ gw: Gateway }>(async (app, { gw }) => requireBearer(app, gw), { name: BEARER_AUTH });
