import { createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { bearerToken } from '../control/authenticate';
import type { CallContext, Caller } from '../control/caller';
import type { CallerScope } from '../control/caller-scope';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import type { AdminRole } from '../resources/token';
import { getResource, type StoredResource } from '../store/resource-store';
import { signJwt, verifyJwt } from './jwt';
import type { PortalSigningKey } from './signing-key';

/** Who issues portal tokens and for what: an admin or other token of ours never passes as a session. */
const TOKEN_AUDIENCE = { issuer: 'portico', audience: 'portico-portal' };

/** What a valid portal JWT says, checked against the user as stored now. */
export interface PortalSession {
  userId: string;
  tenantId: string;
  email: string;
  role: AdminRole;
}

const unauthorized = (message = 'The session token is missing, invalid or expired; sign in again') =>
  new ApiError('UNAUTHORIZED', message);

/**
 * Portal sessions: EdDSA JWTs signed with `jose` (jwt.ts) (`sub` the user, `tenant` their tenant, `iat`, `exp`, and `pwv`, a keyed fingerprint
 * of the stored password hash). Every request re-reads the user, so a password change (a new hash, new salt), a
 * disabled or deleted user, or a move to another tenant ends every session issued before it, at once.
 */
export class PortalSessions {
  constructor(
    private readonly gw: Gateway,
    private readonly key: PortalSigningKey,
    private readonly scope: CallerScope,
  ) {}

  /** Keyed with the master key, so the claim reveals nothing about the hash it stands for. */
  private fingerprint(storedHash: string): string {
    return createHmac('sha256', this.gw.keys.masterKey)
      .update(`portal-pwv:${storedHash}`)
      .digest('base64url')
      .slice(0, 22);
  }

  /** A session token for a signed-in user of a tenant. */
  issue(user: StoredResource): Promise<string> {
    const claims = { sub: user.id, tenant: user.tenant_id ?? '', pwv: this.fingerprint(user.secret ?? '') };
    return signJwt(claims, this.key.privateKey, { ...TOKEN_AUDIENCE, ttlSecs: this.gw.config.portal.tokenTtlSecs });
  }

  /** The session of a bearer JWT; 401 for anything else (a PAT or API key is never a portal session). */
  async verify(token: string | undefined): Promise<PortalSession> {
    if (!token) throw unauthorized('Missing Authorization: Bearer <token> header');
    const claims = await verifyJwt(token, this.key.publicKey, TOKEN_AUDIENCE);
    if (!claims) throw unauthorized();
    const { sub, tenant, pwv } = claims;
    const user = await getResource(this.gw.db, { kind: 'user', id: sub, tenant_id: tenant });
    if (!user || !user.secret || user.data.enabled !== true || this.fingerprint(user.secret) !== pwv)
      throw unauthorized();
    return { userId: user.id, tenantId: tenant, email: String(user.data.email), role: user.data.role as AdminRole };
  }

  /** The caller a session acts as on the resource service: the user, with their role, in their tenant. */
  static callerOf(session: PortalSession): Caller {
    return { type: 'user', id: session.userId, name: session.email, role: session.role, tenantId: session.tenantId };
  }

  /**
   * The request's session, which must belong to `tenantIdParam`: another tenant is a 403 TENANT_SCOPE_VIOLATION
   * (audited, like a tenant token naming another tenant on the admin API).
   */
  async contextFor(req: FastifyRequest, tenantIdParam: string): Promise<CallContext> {
    const session = await this.verify(bearerToken(req.headers.authorization));
    const ctx = { caller: PortalSessions.callerOf(session), traceId: req.id };
    await this.scope.assertTenant(ctx, tenantIdParam, 'tenantId');
    return ctx;
  }

  /** The `tenantOf` the portal's read-outs take: the caller's tenant, or the 401/403 error. */
  async tenantOf(req: FastifyRequest, tenantIdParam: string): Promise<string> {
    return (await this.contextFor(req, tenantIdParam)).caller.tenantId!;
  }
}

/**
 * Resolves a portal request's tenant, checking it is `tenantIdParam` (401 without a valid session, 403 for another
 * tenant). For route plugins outside this module (the read-outs): `tenantOf: (req) => portalTenant(req, id)`.
 */
export function portalTenant(req: FastifyRequest, tenantIdParam: string): Promise<string> {
  const sessions = req.server.portalSessions;
  if (!sessions) throw new ApiError('NOT_READY', 'The tenant portal is not running');
  return sessions.tenantOf(req, tenantIdParam);
}

declare module 'fastify' {
  interface FastifyInstance {
    portalSessions?: PortalSessions;
  }
}
