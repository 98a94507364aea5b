import { MemoryCounts, type LimitWindow } from '../data/counter-store';
import type { CountAnswer, CountSent } from '../data/counter-batching';
import type { Handlers } from './channel';

/** The primary's counts; a reset (from a worker's node admin API or the primary's) makes every worker forget its own. */
class ResettingCounts extends MemoryCounts {
  constructor(private readonly forget: (keys: string[]) => void) {
    super();
  }

  override async resetMany(keys: string[]): Promise<boolean> {
    const any = await super.resetMany(keys);
    this.forget(keys);
    return any;
  }
}

/**
 * The primary as its workers' counter store (when no Redis is set): their batches of admitted requests are added to
 * one {@link MemoryCounts}, and each answer carries the count the workers share; with it, the requests in flight
 * on each worker for priority admission. Every call runs in the primary's one thread, so each is atomic.
 */
export function primaryCounts(forget: (keys: string[]) => void): {
  handlers: Handlers;
  store: MemoryCounts;
  stop(): Promise<void>;
} {
  const counts = new ResettingCounts(forget);
  /** Per worker instance: its requests in flight and when that report lapses. */
  const inFlight = new Map<string, { count: number; expiresAt: number }>();
  const handlers: Handlers = {
    count: ({ counts: sent }: { counts: CountSent[] }): CountAnswer[] => {
      const now = Date.now();
      return sent.map(({ key, n, window }) => {
        if (n > 0) counts.add(key, window, now, n);
        const c = counts.read(key, window, now);
        return [c.count, c.resetAt - now];
      });
    },
    seed: ({ key, count, window }: { key: string; count: number; window: LimitWindow }) =>
      counts.seed(key, count, window, Date.now()),
    peek: ({ keys }: { keys: string[] }) => counts.peekMany(keys, Date.now()),
    reset: ({ keys }: { keys: string[] }) => counts.resetMany(keys),
    inFlight: ({ instance, count, holdMs }: { instance: string; count: number; holdMs: number }) => {
      const now = Date.now();
      inFlight.set(instance, { count, expiresAt: now + holdMs });
      let others = 0;
      for (const [id, r] of inFlight) {
        if (r.expiresAt <= now) inFlight.delete(id);
        else if (id !== instance) others += r.count;
      }
      return others;
    },
  };
  return { handlers, store: counts, stop: () => counts.stop() };
}
