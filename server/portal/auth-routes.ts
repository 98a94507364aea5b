import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Caller } from '../control/caller';
import { fieldsOf } from '../control/resource-input';
import type { ResourceService } from '../control/resource-service';
import { ApiError, validationError } from '../errors';
import type { Gateway } from '../gateway';
import type { RoutesPlugin } from '../http/route-plugin';
import { generateToken, hashToken } from '../lib/secrets';
import { apiKey } from '../resources/api-key';
import type { ResourceDefinition } from '../resources/define';
import { tenant } from '../resources/tenant';
import { user } from '../resources/user';
import { consumeResetToken, dropResetTokens, insertResetToken } from '../store/portal-reset-tokens';
import { findResourceByLookup, getResource, ownerOf } from '../store/resource-store';
import { verifyUser } from '../users/verify';
import { PortalAttemptLimits } from './attempt-limit';
import { queuePortalMail, type MailDispatcher } from './mail/outbox';
import { passwordProblems } from './password-rules';
import type { PortalSessions } from './session';

const email = z.email({ error: 'must be an email address' }).max(254);
const password = z.string().min(1).max(1024);
const registerBody = z.strictObject({ name: z.string().trim().min(1).max(100), email, password });
const loginBody = z.strictObject({ email, password });
const forgotBody = z.strictObject({ email });
const resetBody = z.strictObject({ token: z.string().min(1).max(200), password });
const message = z.object({ message: z.string() });

/** Who signs a new tenant up: the portal itself, on behalf of someone not yet a user. */
const SIGNUP_CALLER: Caller = {
  type: 'system',
  id: 'portal-signup',
  name: 'portal sign-up',
  role: 'owner',
  tenantId: null,
};

/** forgot-password answers no sooner than this, whether or not the email is known, so its timing tells nothing. */
const FORGOT_FLOOR_MS = 400;
const FORGOT_MESSAGE = 'If an account exists for this email, a password reset link has been sent to it.';
const RESET_PREFIX = 'ptc_rst_';

/** A tenant id from a team name: its slug and a random suffix (`acme-corp-3f9a1c`). */
function tenantIdFor(name: string): string {
  const base = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${base || 'team'}-${randomBytes(3).toString('hex')}`;
}

const problemsOr400 = (pw: string, address?: string) => {
  const problems = passwordProblems(pw, address);
  if (problems.length) throw validationError(problems);
};

export interface AuthDeps {
  gw: Gateway;
  service: ResourceService;
  sessions: PortalSessions;
  mail: MailDispatcher;
}

/** `/api/auth/*`: register, login, forgot-password, reset-password (seed 004). */
export const authRoutes: RoutesPlugin<AuthDeps> = async (app, { gw, service, sessions, mail }) => {
  const settings = gw.config.portal;
  const limits = new PortalAttemptLimits(settings.limits, settings.limitWindowSecs * 1000);
  const tags = ['Portal: auth'];
  const asDef = (d: unknown) => d as ResourceDefinition;

  const registered = z.object({ token: z.string(), tenantId: z.string(), gatewayApiKey: z.string() });
  const summary = 'Create a tenant, its owner user and a first gateway API key (shown once)';
  app.post(
    '/auth/register',
    { schema: { security: [], summary, tags, body: registerBody, response: { 201: registered } } },
    async (req, reply) => {
      if (!settings.signup)
        throw new ApiError('FORBIDDEN', 'Sign-up is turned off on this gateway; ask an operator for an invitation');
      limits.register(req.ip);
      const body = req.body;
      problemsOr400(body.password, body.email);
      if (await findResourceByLookup(gw.db, user.kind, user.unique!({ email: body.email } as never)))
        throw new ApiError('ALREADY_EXISTS', 'An account with this email exists; sign in instead', [
          { path: 'email', message: 'is taken' },
        ]);
      const ctx = { caller: SIGNUP_CALLER, traceId: req.id };
      const tenantId = tenantIdFor(body.name);
      const out = await gw.db.transaction().execute(async (tx) => {
        await service.create(ctx, asDef(tenant), { id: tenantId, name: body.name }, { tx });
        const owner = {
          email: body.email,
          name: body.name,
          role: 'admin',
          password: body.password,
          tenant_id: tenantId,
        };
        const made = await service.create(ctx, asDef(user), owner, { tx });
        const key = await service.create(ctx, asDef(apiKey), { name: 'default' }, { tx, pathTenant: tenantId });
        return { userId: made.id, key: String(key.key) };
      });
      const row = await getResource(gw.db, { kind: 'user', id: out.userId, tenant_id: tenantId });
      return reply.code(201).send({ token: await sessions.issue(row!), tenantId, gatewayApiKey: out.key });
    },
  );

  const loggedIn = z.object({ token: z.string(), tenantId: z.string() });
  app.post(
    '/auth/login',
    {
      schema: {
        security: [],
        summary: 'Sign in with email and password',
        tags,
        body: loginBody,
        response: { 200: loggedIn },
      },
    },
    async (req) => {
      limits.login(req.body.email, req.ip);
      const found = await verifyUser(gw.db, req.body.email, req.body.password);
      if (!found) throw new ApiError('UNAUTHORIZED', 'The email or password is wrong');
      if (found.tenant_id === null)
        throw new ApiError('FORBIDDEN', 'Platform users sign in to the console, not the tenant portal');
      limits.loginSucceeded(req.body.email);
      const row = await getResource(gw.db, { kind: 'user', id: found.id, tenant_id: found.tenant_id as string });
      return { token: await sessions.issue(row!), tenantId: found.tenant_id as string };
    },
  );

  app.post(
    '/auth/forgot-password',
    {
      schema: {
        security: [],
        summary: 'Mail a password reset link (always 200)',
        tags,
        body: forgotBody,
        response: { 200: message },
      },
    },
    async (req) => {
      // counted whether the email is known or not, so a 429 tells nothing about it either
      limits.forgotPassword(req.body.email, req.ip);
      const started = Date.now();
      const row = await findResourceByLookup(gw.db, user.kind, user.unique!({ email: req.body.email } as never));
      if (row && row.secret && row.tenant_id !== null && row.data.enabled === true) {
        const token = generateToken(RESET_PREFIX);
        const expires = new Date(Date.now() + settings.resetTtlSecs * 1000);
        const link = settings.publicUrl ? `${settings.publicUrl}/reset-password?token=${token}` : undefined;
        const minutes = Math.round(settings.resetTtlSecs / 60);
        const text = [
          'Someone asked to reset the password of your Portico account.',
          link ? `Open this link to choose a new one: ${link}` : `Your reset token: ${token}`,
          `It works once, within ${minutes} minutes. If it was not you, ignore this mail.`,
        ].join('\n\n');
        const holder = { user_id: row.id, user_owner: ownerOf(row.tenant_id) };
        await gw.db.transaction().execute(async (tx) => {
          await dropResetTokens(tx, holder); // a new request supersedes older links
          await insertResetToken(tx, { token_hash: hashToken(token), ...holder, expires_at: expires });
          await queuePortalMail(tx, gw.keys.masterKey, {
            to: String(row.data.email),
            subject: 'Reset your Portico password',
            text,
          });
        });
        mail.wake();
      }
      await sleep(Math.max(0, FORGOT_FLOOR_MS - (Date.now() - started)));
      return { message: FORGOT_MESSAGE };
    },
  );

  app.post(
    '/auth/reset-password',
    {
      schema: {
        security: [],
        summary: 'Set a new password with a reset token',
        tags,
        body: resetBody,
        response: { 200: message },
      },
    },
    async (req) => {
      const badToken = () => validationError([{ path: 'token', message: 'is not valid, already used or expired' }]);
      if (!req.body.token.startsWith(RESET_PREFIX)) throw badToken();
      await gw.db.transaction().execute(async (tx) => {
        const holder = await consumeResetToken(tx, hashToken(req.body.token));
        if (!holder) throw badToken();
        const row = await getResource(tx, { kind: 'user', id: holder.user_id, tenant_id: holder.user_owner || null });
        if (!row) throw badToken();
        problemsOr400(req.body.password, String(row.data.email));
        await dropResetTokens(tx, holder);
        // the user acting on their own password, whatever their role lets them do with users otherwise
        const self: Caller = {
          type: 'user',
          id: row.id,
          name: String(row.data.email),
          role: 'owner',
          tenantId: row.tenant_id,
        };
        const fields = fieldsOf(asDef(user), row.data);
        await service.update(
          { caller: self, traceId: req.id },
          asDef(user),
          { id: row.id, owner: holder.user_owner },
          {
            ...fields,
            password: req.body.password,
          },
          { tx },
        );
      });
      return { message: 'Your password has been reset; sign in with the new one.' };
    },
  );
};
