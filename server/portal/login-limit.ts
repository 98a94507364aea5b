import { ApiError } from '../errors';

interface Window {
  count: number;
  resetAt: number;
}

/**
 * Login attempts per email and per client address, in fixed windows: guessing one account's password from many
 * addresses, or many accounts' from one address, is slowed alike. Every attempt counts (checked before the password
 * is), and a successful sign-in clears its email's count. Held per instance, like the admin rate limit.
 */
export class LoginLimit {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly perEmail: number,
    private readonly perAddress: number,
    private readonly windowMs: number,
  ) {}

  /** Counts an attempt; over either limit, a 429 RATE_LIMITED with `Retry-After` (whole seconds). */
  attempt(email: string, address: string, now = Date.now()): void {
    if (this.windows.size > 50_000) this.sweep(now);
    const byEmail = this.count(`email:${email.toLowerCase()}`, now);
    const byAddress = this.count(`ip:${address}`, now);
    const over = [
      byEmail.count > this.perEmail ? byEmail : undefined,
      byAddress.count > this.perAddress ? byAddress : undefined,
    ].filter((w): w is Window => w !== undefined);
    if (!over.length) return;
    const seconds = Math.max(1, Math.ceil((Math.max(...over.map((w) => w.resetAt)) - now) / 1000));
    throw new ApiError('RATE_LIMITED', `Too many sign-in attempts; retry in ${seconds} s`).withHeaders({
      'retry-after': String(seconds),
    });
  }

  /** A successful sign-in: its email starts afresh (its address keeps counting). */
  succeeded(email: string): void {
    this.windows.delete(`email:${email.toLowerCase()}`);
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
