import { ApiError } from '../errors';

interface Window {
  count: number;
  resetAt: number;
}

/** One counter an attempt is charged to: its key (`login-email:a@b.c`) and how many attempts a window allows. */
export interface LimitedKey {
  key: string;
  limit: number;
}

/**
 * Attempts counted per key in fixed windows, for the portal's unauthenticated endpoints (login, register,
 * forgot-password): each attempt is charged to every key given (an email, a client address), so one account tried
 * from many addresses, or many accounts from one address, is slowed alike. Every attempt counts, whether it succeeds
 * or not, and is counted before the work it guards. Held per instance, like the admin rate limit.
 */
export class AttemptLimit {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly windowMs: number) {}

  /** Counts an attempt under each key; over any key's limit, a 429 RATE_LIMITED with `Retry-After` (whole seconds). */
  attempt(keys: LimitedKey[], what: string, now = Date.now()): void {
    if (this.windows.size > 50_000) this.sweep(now);
    const over = keys.map((k) => ({ ...k, window: this.count(k.key, now) })).filter((k) => k.window.count > k.limit);
    if (!over.length) return;
    const seconds = Math.max(1, Math.ceil((Math.max(...over.map((k) => k.window.resetAt)) - now) / 1000));
    throw new ApiError('RATE_LIMITED', `Too many ${what}; retry in ${seconds} s`).withHeaders({
      'retry-after': String(seconds),
    });
  }

  /** The key starts afresh (a successful sign-in clears its email's count). */
  clear(key: string): void {
    this.windows.delete(key);
  }

  private count(key: string, now: number): Window {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) this.windows.set(key, (w = { count: 0, resetAt: now + this.windowMs }));
    w.count += 1;
    return w;
  }

  private sweep(now: number): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }
}

/** Limits of the portal's three unauthenticated endpoints, from the settings. */
export interface PortalLimits {
  loginPerEmail: number;
  loginPerAddress: number;
  registerPerAddress: number;
  forgotPerEmail: number;
  forgotPerAddress: number;
}

/** The portal's abuse limits, on one window: what each unauthenticated endpoint charges an attempt to. */
export class PortalAttemptLimits {
  private readonly limit: AttemptLimit;

  constructor(
    private readonly limits: PortalLimits,
    windowMs: number,
  ) {
    this.limit = new AttemptLimit(windowMs);
  }

  login(email: string, address: string): void {
    const { loginPerEmail, loginPerAddress } = this.limits;
    const keys = [
      { key: `login-email:${email.toLowerCase()}`, limit: loginPerEmail },
      { key: `login-ip:${address}`, limit: loginPerAddress },
    ];
    this.limit.attempt(keys, 'sign-in attempts');
  }

  /** A successful sign-in: its email starts afresh (its address keeps counting). */
  loginSucceeded(email: string): void {
    this.limit.clear(`login-email:${email.toLowerCase()}`);
  }

  register(address: string): void {
    this.limit.attempt([{ key: `register-ip:${address}`, limit: this.limits.registerPerAddress }], 'sign-ups');
  }

  forgotPassword(email: string, address: string): void {
    const { forgotPerEmail, forgotPerAddress } = this.limits;
    const keys = [
      { key: `forgot-email:${email.toLowerCase()}`, limit: forgotPerEmail },
      { key: `forgot-ip:${address}`, limit: forgotPerAddress },
    ];
    this.limit.attempt(keys, 'password reset requests');
  }
}
