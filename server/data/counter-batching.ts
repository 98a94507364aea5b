import { windowEnd, type LimitWindow, type WindowCount } from './counter-store';

/** One counter as this process knows it: the shared count last heard, and what it admitted since. */
interface Entry {
  window: LimitWindow;
  resetAt: number;
  /** The count the shared store last answered. */
  shared: number;
  /** Admitted here, not yet sent. */
  pending: number;
  /** Sent, not yet answered. */
  sending: number;
  /** Read since the last flush: its shared count is worth refreshing. */
  touched: boolean;
  /** The limit of the rule it was last read for (0: unknown), so that adds tell whether the limit is near. */
  limit: number;
}

/** What a flush sends for one counter: `n` more admitted (0: only read it), in `window`. */
export interface CountSent {
  key: string;
  n: number;
  window: LimitWindow;
}

/** The shared store's answer for one counter: its count after the add, and milliseconds left in its window. */
export type CountAnswer = [count: number, ttlMs: number];

/**
 * The local half of a shared counter store (Redis for every node, or the primary process for its workers): a request
 * is decided at once on the shared count last heard plus what this process admitted since, and the counts go out in
 * batches, every tick or sooner when a counter has `batch` unconfirmed. A process admits at most `batch` requests per
 * counter that the shared store has not confirmed, so W processes let at most W × batch through beyond a limit.
 * With a `near` margin, the hold applies only to a counter whose count is within `near` of its rule's limit: further
 * from it, a process admits on while its counts are on their way (a busy counter far from its limit would otherwise
 * be refused each time a batch fills faster than the store answers); the bound then also assumes the processes admit
 * fewer than `near` on one counter while one answer is awaited.
 * `send` adds the counts and answers in order; when it throws, `onFailure` hears why (the sent counts may or may not
 * have landed) and the entries are left for the owner to take over.
 */
export class BatchedCounts {
  private readonly entries = new Map<string, Entry>();
  private flushing = false;
  private again = false;
  private scheduled = false;
  /** Callers waiting for the next answer of the shared store (see `confirmed`). */
  private waiters: (() => void)[] = [];

  constructor(
    private readonly batch: number,
    private readonly send: (counts: CountSent[], now: number) => Promise<CountAnswer[]>,
    private readonly onFailure: (err: Error) => void,
    private readonly near = Infinity,
  ) {}

  /** A flush (or the owner's own exclusive step, see `exclusive`) is under way. */
  get busy(): boolean {
    return this.flushing;
  }

  read(key: string, window: LimitWindow, now: number, limit = 0): WindowCount {
    const e = this.entry(key, window, now);
    e.touched = true;
    const unconfirmed = e.pending + e.sending;
    const count = e.shared + unconfirmed;
    e.limit = limit;
    return { count, resetAt: e.resetAt, held: unconfirmed >= this.batch && count + this.near >= limit };
  }

  add(key: string, window: LimitWindow, now: number, n = 1): void {
    const e = this.entry(key, window, now);
    e.pending += n;
    // near its limit a full batch goes at once; further from it the next tick is soon enough
    const unconfirmed = e.pending + e.sending;
    if (unconfirmed >= this.batch && e.shared + unconfirmed + this.near >= e.limit) this.kick();
  }

  /**
   * Resolves when the next flush has been answered (or has failed): a held counter's unconfirmed requests are then
   * counted, and the caller may decide again instead of refusing a request the limit still has room for.
   */
  confirmed(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.kick();
    });
  }

  /** What this process admitted on `key` and has not sent yet (what is being sent may be counted already). */
  unsent(key: string, now: number): number {
    const e = this.entries.get(key);
    return e && e.resetAt > now ? e.pending : 0;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** Every live counter with all this process counted on it, and forgets them (the owner counts on without them). */
  drain(now: number): { key: string; count: number; window: LimitWindow }[] {
    const out = [];
    for (const [key, e] of this.entries) {
      if (e.resetAt > now) out.push({ key, count: e.shared + e.sending + e.pending, window: e.window });
    }
    this.entries.clear();
    return out;
  }

  /** Forgets every counter (they are read afresh), keeping `unsent` to send: what was admitted while apart. */
  restart(unsent: { key: string; n: number; window: LimitWindow; resetAt: number }[], now: number): void {
    this.entries.clear();
    for (const { key, n, window, resetAt } of unsent) {
      if (resetAt <= now) continue;
      this.entries.set(key, { window, resetAt, shared: 0, pending: n, sending: 0, touched: true, limit: 0 });
    }
  }

  /** Runs `step` with flushes held off (the owner's probe of its store). */
  async exclusive(step: () => Promise<void>): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      await step();
    } finally {
      this.flushing = false;
    }
  }

  private entry(key: string, window: LimitWindow, now: number): Entry {
    let e = this.entries.get(key);
    if (!e || e.resetAt <= now) {
      // a new window; what was unsent of the old one belonged to it
      e = { window, resetAt: windowEnd(window, now), shared: 0, pending: 0, sending: 0, touched: false, limit: 0 };
      this.entries.set(key, e);
    }
    return e;
  }

  /** A flush as soon as the one under way ends: a counter reached its batch. */
  kick(): void {
    if (this.flushing) this.again = true;
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }

  /** Sends what was admitted since the last flush and reads the counters read since, in one exchange. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const now = Date.now();
    const batch: [string, Entry, number][] = [];
    for (const [key, e] of this.entries) {
      if (e.resetAt <= now) this.entries.delete(key);
      else if (e.pending || e.touched) {
        batch.push([key, e, e.pending]);
        e.sending += e.pending;
        e.pending = 0;
        e.touched = false;
      }
    }
    try {
      if (!batch.length) return;
      const answers = await this.send(
        batch.map(([key, e, n]) => ({ key, n, window: e.window })),
        now,
      );
      const answered = Date.now();
      batch.forEach(([key, e, n], i) => {
        e.sending -= n;
        if (this.entries.get(key) !== e) return;
        const [count, ttl] = answers[i]!;
        e.shared = count;
        if (ttl > 0) e.resetAt = answered + ttl;
      });
    } catch (err) {
      this.onFailure(err as Error);
    } finally {
      this.flushing = false;
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }
}
