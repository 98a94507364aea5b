import type { Gateway } from '../gateway';
import { addShadowStats, clearShadowStats, readShadowStats, type ShadowBatch } from '../store/policy-shadow-stats';
import { ownerOf } from '../store/resource-store';
import type { Executor } from '../store/schema';
import type { Decision, Verdict } from './evaluate';

/** One request a SHADOW policy would have acted on. */
export interface ShadowSample {
  at: string;
  method: string;
  path: string;
  tenant_id: string | null;
  api_key_id: string | null;
  route_id: string | null;
  verdict: Verdict;
  reason: string;
}

export interface ShadowReport {
  since: string | null;
  evaluated: number;
  /** Requests per verdict (allow, deny, redact, limit, require_approval). */
  verdicts: Partial<Record<Verdict, number>>;
  /** The most recent requests it would have acted on (anything but allow), newest first. */
  samples: ShadowSample[];
}

/** Samples kept per policy. */
export const KEPT_SAMPLES = 20;

/** How often a node adds what it counted to the database. */
export const SHADOW_FLUSH_MS = 1000;

/** What one node counted for one policy since its last flush. */
interface Pending {
  tenantId: string | null;
  id: string;
  since: Date;
  verdicts: Record<string, number>;
  samples: ShadowSample[];
}

/**
 * What SHADOW policies would have done on live traffic, for the whole cluster: each node counts in memory (the data
 * plane's hot path never waits on the database) and adds its counts and samples to the database in batches, every
 * SHADOW_FLUSH_MS and when it stops; a failed flush keeps them for the next. The admin API reads the cluster's
 * totals (after flushing its own node). A status change out of or into SHADOW clears a policy's statistics in the
 * database, and a node's unflushed counts of a policy no longer SHADOW are dropped at its next flush.
 */
export class ShadowStats {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly gw: Pick<Gateway, 'db' | 'log'>) {}

  private static key(tenantId: string | null, id: string): string {
    return `${tenantId ?? ''}/${id}`;
  }

  record(d: Decision, sample: Omit<ShadowSample, 'verdict' | 'reason' | 'at'>): void {
    const key = ShadowStats.key(d.tenant_id, d.policy_id);
    let p = this.pending.get(key);
    if (!p) {
      p = { tenantId: d.tenant_id, id: d.policy_id, since: new Date(), verdicts: {}, samples: [] };
      this.pending.set(key, p);
    }
    p.verdicts[d.verdict] = (p.verdicts[d.verdict] ?? 0) + 1;
    this.timer ??= setInterval(() => void this.flush(), SHADOW_FLUSH_MS).unref();
    if (d.verdict === 'allow' || d.verdict === 'skip') return;
    p.samples.unshift({ at: new Date().toISOString(), ...sample, verdict: d.verdict, reason: d.reason });
    if (p.samples.length > KEPT_SAMPLES) p.samples.length = KEPT_SAMPLES;
  }

  /** Adds what this node counted to the database (one flush at a time); on failure the counts wait for the next. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (!this.pending.size) return;
    const taken = this.pending;
    this.pending = new Map();
    const batches: ShadowBatch[] = [...taken.values()].map((p) => ({
      owner: ownerOf(p.tenantId),
      policyId: p.id,
      since: p.since,
      verdicts: p.verdicts,
      samples: p.samples,
    }));
    try {
      await addShadowStats(this.gw.db, batches, KEPT_SAMPLES);
    } catch (err) {
      this.gw.log.warn({ err }, 'shadow statistics not flushed; kept for the next flush');
      for (const [key, p] of taken) this.putBack(key, p);
    }
  }

  /** Merges counts that could not be written with those counted since (newer samples first). */
  private putBack(key: string, old: Pending): void {
    const now = this.pending.get(key);
    if (!now) return void this.pending.set(key, old);
    for (const [v, n] of Object.entries(old.verdicts)) now.verdicts[v] = (now.verdicts[v] ?? 0) + n;
    now.samples = [...now.samples, ...old.samples].slice(0, KEPT_SAMPLES);
    if (old.since < now.since) now.since = old.since;
  }

  /** The cluster's totals for a policy, this node's latest counts included. */
  async report(tenantId: string | null, id: string): Promise<ShadowReport> {
    await this.flush();
    const stored = await readShadowStats(this.gw.db, ownerOf(tenantId), id, KEPT_SAMPLES);
    return { ...stored, samples: stored.samples as unknown as ShadowSample[] }; // written by record() above
  }

  /** Clears a policy's statistics: in the database (`db`, the status change's transaction) and on this node. */
  async clear(db: Executor, tenantId: string | null, id: string): Promise<void> {
    this.pending.delete(ShadowStats.key(tenantId, id));
    await clearShadowStats(db, ownerOf(tenantId), id);
  }

  /** Stops the periodic flush, after a last one. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

const perGateway = new WeakMap<object, ShadowStats>();

/** The shadow statistics of one gateway process (its data plane records, its admin API reads). */
export function shadowStatsOf(gw: Pick<Gateway, 'db' | 'log'>): ShadowStats {
  let stats = perGateway.get(gw);
  if (!stats) perGateway.set(gw, (stats = new ShadowStats(gw)));
  return stats;
}
