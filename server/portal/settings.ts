import type { PortalLimits } from './attempt-limit';

/**
 * The tenant portal's settings (`PORTICO_PORTAL_*`, `PORTICO_SMTP_URL`, `PORTICO_MAIL_FROM`). A bad value calls
 * `fail(variable, message)`, which start-up turns into its one-line error.
 */
export interface PortalSettings {
  /** `POST /api/auth/register` creates tenants; false answers 403 (operators who invite rather than open sign-up). */
  signup: boolean;
  /** How long a portal JWT is valid, in seconds. */
  tokenTtlSecs: number;
  /** How long a password reset token is valid, in seconds. */
  resetTtlSecs: number;
  /** Attempts allowed per window: login per email and per address, register per address, forgot-password both. */
  limits: PortalLimits;
  /** The fixed window of those limits, in seconds. */
  limitWindowSecs: number;
  /** Where the portal's pages live: the reset mail links `<url>/reset-password?token=…`; unset: the mail gives the token. */
  publicUrl: string | undefined;
  /** `smtp://` or `smtps://` URL (credentials in it) of the relay mails go through; unset: the log sender. */
  smtpUrl: string | undefined;
  mailFrom: string;
}

type Fail = (variable: string, message: string) => never;

function count(env: NodeJS.ProcessEnv, name: string, fallback: number, fail: Fail): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[1-9]\d{0,8}$/.test(raw)) fail(name, `must be a positive whole number, got "${raw}"`);
  return Number(raw);
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: string[], fail: Fail): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  // the value may hold a password: never echo it back
  if (!parsed || !protocols.includes(parsed.protocol)) fail(name, `must be a ${protocols.join(' or ')}// URL`);
  return raw;
}

export function parsePortalSettings(env: NodeJS.ProcessEnv, fail: Fail): PortalSettings {
  const signup = env.PORTICO_PORTAL_SIGNUP || 'true';
  if (!['true', 'false'].includes(signup)) fail('PORTICO_PORTAL_SIGNUP', `must be true or false, got "${signup}"`);
  const mailFrom = env.PORTICO_MAIL_FROM || 'Portico <no-reply@portico.local>';
  if (!/^[^\r\n]{3,254}$/.test(mailFrom) || !mailFrom.includes('@'))
    fail('PORTICO_MAIL_FROM', 'must be an address such as "Portico <no-reply@example.com>"');
  return {
    signup: signup === 'true',
    tokenTtlSecs: count(env, 'PORTICO_PORTAL_TOKEN_TTL_SECS', 3600, fail),
    resetTtlSecs: count(env, 'PORTICO_PORTAL_RESET_TTL_SECS', 1800, fail),
    limits: {
      loginPerEmail: count(env, 'PORTICO_PORTAL_LOGIN_LIMIT_EMAIL', 10, fail),
      loginPerAddress: count(env, 'PORTICO_PORTAL_LOGIN_LIMIT_ADDRESS', 50, fail),
      registerPerAddress: count(env, 'PORTICO_PORTAL_REGISTER_LIMIT_ADDRESS', 20, fail),
      forgotPerEmail: count(env, 'PORTICO_PORTAL_FORGOT_LIMIT_EMAIL', 5, fail),
      forgotPerAddress: count(env, 'PORTICO_PORTAL_FORGOT_LIMIT_ADDRESS', 20, fail),
    },
    // one window for all of them; the variable keeps the name it had when login was the only limit
    limitWindowSecs: count(env, 'PORTICO_PORTAL_LOGIN_WINDOW_SECS', 900, fail),
    publicUrl: url(env, 'PORTICO_PORTAL_URL', ['http:', 'https:'], fail)?.replace(/\/+$/, ''),
    smtpUrl: url(env, 'PORTICO_SMTP_URL', ['smtp:', 'smtps:'], fail),
    mailFrom,
  };
}
