import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { AdminRateLimit } from '../control/admin-rate-limit';
import { authenticate, bearerToken } from '../control/authenticate';
import { CALLER } from '../control/request-state';
import type { ControlPlaneBreaker } from './control-plane-breaker';

/**
 * Seed 003's authentication for `/admin/*`: `Authorization: Bearer` with the gateway's admin token, that is the owner
 * token or a platform personal access token (a tenant's token is refused: this is the node's own surface, across
 * tenants). 503 when the node has no admin token (or `PORTICO_NODE_ADMIN=off`), 401 for a missing or bad token.
 * What each platform role may do is checked per route against the permission matrix.
 */
export function requireNodeAdminToken(app: FastifyInstance, gw: Gateway, breaker: ControlPlaneBreaker): void {
  const limit = new AdminRateLimit(gw.config.adminRateLimit);
  app.addHook('onRequest', async (request) => {
    if (!gw.config.nodeAdmin || !gw.bootstrapTokenHash) throw new ApiError('ADMIN_API_DISABLED');
    const token = bearerToken(request.headers.authorization);
    // a personal access token is looked up in the database: through the breaker (the owner token needs no query)
    const caller = token ? await breaker.run(() => authenticate(gw, token)) : undefined;
    limit.check(caller ? `token:${caller.id}` : `ip:${request.ip}`);
    if (!caller)
      throw new ApiError(
        'UNAUTHORIZED',
        token ? 'The bearer token is not valid, revoked or expired' : 'Missing Authorization: Bearer <token> header',
      );
    if (caller.tenantId !== null)
      throw new ApiError('FORBIDDEN', "The node admin API is the platform's: a tenant's token may not use it");
    request[CALLER] = caller;
  });
}
