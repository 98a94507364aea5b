import { z } from 'zod';
import { bearerToken } from '../control/authenticate';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { ROLES } from '../resources/token';
import { PortalAttemptLimits } from '../portal/attempt-limit';
import { getResource } from '../store/resource-store';
import { endSession, SESSION_PREFIX, startSession } from './sessions';
import { verifyUser } from './verify';

const signInBody = z.strictObject({
  email: z.email({ error: 'must be an email address' }).max(254),
  password: z.string().min(1).max(1024),
});
const signedIn = z.object({
  token: z.string().describe('The session token (`ptc_ses_…`): send it as `Authorization: Bearer` to /v1/admin.'),
  expires_at: z.string().describe('When the session ends; sign in again after it.'),
  user: z.object({ id: z.string(), email: z.string(), role: z.enum(ROLES), tenant_id: z.string().nullable() }),
});
const tags = ['Sign-in'];

/**
 * `/v1/auth/sessions`: a user's email and password sign in to the admin API (the console's "email and password"
 * form). The session token is accepted on `/v1/admin/*` like a PAT with the user's role and tenant, never on the
 * portal's `/api/*`. Attempts are rate limited per email and per address (the portal's limits); a wrong email, a
 * wrong password and a disabled user get one answer, in about the same time.
 */
export const userSessionRoutes = routePlugin<{ gw: Gateway }>(
  'portico-user-session-routes',
  [ZOD_SCHEMAS],
  async (app, { gw }) => {
    const settings = gw.config.portal;
    // the portal's sign-in limits and window, with counters of its own
    const limits = new PortalAttemptLimits(settings.limits, settings.limitWindowSecs * 1000);

    app.post(
      '/sessions',
      {
        schema: {
          security: [],
          summary: 'Sign in to the admin API with a user’s email and password',
          description:
            'Starts a session of 8 hours for an enabled user. A wrong email or password is one 401; ' +
            'too many attempts per email or address are a 429 with Retry-After.',
          tags,
          body: signInBody,
          response: { 201: signedIn },
        },
      },
      async (req, reply) => {
        limits.login(req.body.email, req.ip);
        const found = await verifyUser(gw.db, req.body.email, req.body.password);
        if (!found) throw new ApiError('UNAUTHORIZED', 'The email or password is wrong');
        limits.loginSucceeded(req.body.email);
        const tenantId = (found.tenant_id as string | null) ?? null;
        const row = await getResource(gw.db, { kind: 'user', id: found.id, tenant_id: tenantId });
        if (!row) throw new ApiError('UNAUTHORIZED', 'The email or password is wrong');
        const { token, expiresAt } = await startSession(gw, row);
        const user = { id: row.id, email: String(row.data.email), role: row.data.role as never, tenant_id: tenantId };
        return reply.code(201).send({ token, expires_at: expiresAt.toISOString(), user });
      },
    );

    app.delete(
      '/sessions/current',
      {
        schema: {
          summary: 'Sign out: end the session of the bearer token',
          tags,
          response: { 204: z.null() },
        },
      },
      async (req, reply) => {
        const token = bearerToken(req.headers.authorization);
        if (!token?.startsWith(SESSION_PREFIX) || !(await endSession(gw, token)))
          throw new ApiError('UNAUTHORIZED', 'The bearer token is not a live session token');
        return reply.status(204).send();
      },
    );
  },
);
