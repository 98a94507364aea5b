/** What `within` resolves to when the time ran out first. */
export const LATE = Symbol('late');

/**
 * `work`'s value, or `LATE` once `ms` have passed without it (the work itself goes on; nothing is cancelled). For
 * waits that must end even when what they wait on never answers: a hung database, a stop's grace.
 */
export async function within<T>(work: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => (timer = setTimeout(() => resolve(LATE), Math.max(0, ms))));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
