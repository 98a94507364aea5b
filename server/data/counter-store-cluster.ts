import type { PrimaryChannel } from '../cluster/channel';
import { BatchedCounts, type CountAnswer } from './counter-batching';
import type { CounterStore, LimitWindow, WindowCount } from './counter-store';

/** Requests a worker may admit on one counter before the primary has confirmed them (the error bound's B). */
export const WORKER_BATCH = 20;
/** How often a worker sends its counts and reads the shared ones (sooner when a counter reaches its batch). */
export const WORKER_FLUSH_MS = 10;

/**
 * A worker's counts, kept by its primary (PORTICO_WORKERS > 1 without PORTICO_REDIS_URL): the same local batching
 * as Redis's store (server/data/counter-batching.ts) over the cluster's IPC channel, so W workers let at most
 * W × {@link WORKER_BATCH} requests through beyond a limit per window, not W times the limit (a worker holds a
 * counter only within that margin of its limit; see BatchedCounts for what the bound assumes). The primary lives as
 * long as its workers: a call it does not answer leaves what was sent counted here, on the safe side.
 */
export class ClusterCounts implements CounterStore {
  private readonly batched: BatchedCounts;
  private readonly ticker: NodeJS.Timeout;

  constructor(
    private readonly primary: PrimaryChannel,
    workers: number,
    onFailure: (err: Error) => void,
  ) {
    const send = (counts: unknown) => primary.call<CountAnswer[]>('count', { counts });
    // held only within W × B of a limit: a busy counter far from it is not refused while its batch is on the way
    this.batched = new BatchedCounts(WORKER_BATCH, send, onFailure, workers * WORKER_BATCH);
    this.ticker = setInterval(() => void this.batched.flush(), WORKER_FLUSH_MS).unref();
    process.on('message', this.onMessage);
  }

  /** A counter reset anywhere on the node: what this worker knew of it is stale (server/cluster/primary-counts.ts). */
  private readonly onMessage = (m: { portico?: string; keys?: string[] }) => {
    if (m?.portico === 'forget') m.keys?.forEach((key) => this.batched.forget(key));
  };

  async start(): Promise<void> {}

  read(key: string, window: LimitWindow, now: number, limit?: number): WindowCount {
    return this.batched.read(key, window, now, limit);
  }

  add(key: string, window: LimitWindow, now: number): void {
    this.batched.add(key, window, now);
  }

  confirmed(): Promise<void> {
    return this.batched.confirmed();
  }

  /** Quotas counted back at start-up: the primary keeps the highest any worker read (each reads the same logs). */
  seed(key: string, count: number, window: LimitWindow): void {
    void this.primary.call('seed', { key, count, window }).catch(() => {});
  }

  /** The primary's counts plus what this worker has not sent yet. */
  async peekMany(keys: string[], now: number): Promise<(number | undefined)[]> {
    const shared = await this.primary.call<(number | null | undefined)[]>('peek', { keys });
    return keys.map((key, i) => {
      const mine = this.batched.unsent(key, now);
      const value = shared[i];
      return value === null || value === undefined ? mine || undefined : value + mine;
    });
  }

  /** Clears the counts for every worker (the others read the new counts within a flush). */
  async resetMany(keys: string[]): Promise<boolean> {
    keys.forEach((key) => this.batched.forget(key));
    return this.primary.call<boolean>('reset', { keys });
  }

  /** Requests in flight on the other workers, told the primary this worker's (for priority admission). */
  othersInFlight(instance: string, count: number, holdMs: number): Promise<number> {
    return this.primary.call<number>('inFlight', { instance, count, holdMs });
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    process.off('message', this.onMessage);
    await this.batched.flush();
  }
}
