import { ApiError } from '../errors';
import type { TenantState } from '../resources';
import type { SnapshotApiKey } from '../store/snapshot-keys';
import type { PrioritySettings } from './settings';

/** The metadata key a tenant (set by the platform) or an API key (set by its tenant) names its priority tier with. */
export const TIER_METADATA_KEY = 'priority_tier';

/** A request's place in the count, kept on the request until it ends. */
const HELD = Symbol('portico.priority');

interface Holder {
  [HELD]?: string;
}

/** One series of a counter: its labels and its count. */
type Series = { labels: [tenant: string, tier: string]; n: number };

/**
 * Priority admission (seed 001): a global cap on requests in flight, of which each tier may fill its threshold
 * percentage, so under load the low tiers are refused first (429 `PRIORITY_THROTTLED`) and premium keeps its
 * headroom. Held in memory per instance: the check is a few comparisons, and every request gives its place back
 * when it ends (answered, failed, streamed to the end, or abandoned by its client).
 */
export class PriorityAdmission {
  private current = 0;
  /** Requests in flight on the other instances sharing the count through Redis, as last heard; 0 when not shared. */
  elsewhere = 0;
  private readonly perTier = new Map<string, number>();
  private readonly limits = new Map<string, number>();
  private readonly rank = new Map<string, number>();
  private readonly requests = new Map<string, Series>();
  private readonly throttled = new Map<string, Series>();

  constructor(readonly settings: PrioritySettings) {
    settings.tiers.forEach((t, i) => {
      this.perTier.set(t.name, 0);
      this.limits.set(t.name, Math.floor((settings.maxConcurrent * t.thresholdPct) / 100));
      this.rank.set(t.name, i);
    });
  }

  /**
   * The tier of a call: its tenant's (`metadata.priority_tier`, which only platform roles can write), else the
   * default; its key may name a lower one (a batch job's key on `bulk`), never a higher one. Unknown names are
   * ignored.
   */
  tierOf(tenant: TenantState | null, key: SnapshotApiKey | null): string {
    const known = (name: string | undefined) => (name !== undefined && this.rank.has(name) ? name : undefined);
    const tenantTier = known(tenant?.metadata[TIER_METADATA_KEY]) ?? this.settings.defaultTier;
    const keyTier = known(key?.metadata[TIER_METADATA_KEY]);
    return keyTier !== undefined && this.rank.get(keyTier)! > this.rank.get(tenantTier)! ? keyTier : tenantTier;
  }

  /** Takes a place for the request, or refuses it with 429 when its tier's share is full. Once per request. */
  admit(request: object, tenant: TenantState | null, key: SnapshotApiKey | null): void {
    if (this.settings.maxConcurrent === 0 || (request as Holder)[HELD] !== undefined) return;
    const tier = this.tierOf(tenant, key);
    const tenantId = tenant?.id ?? '';
    if (this.current + this.elsewhere >= this.limits.get(tier)!) {
      count(this.throttled, tenantId, tier);
      const pct = this.settings.tiers[this.rank.get(tier)!]!.thresholdPct;
      throw new ApiError(
        'PRIORITY_THROTTLED',
        `The gateway is busy: the ${tier} tier is admitted below ${pct}% of ${this.settings.maxConcurrent} requests in flight; retry shortly`,
      ).withHeaders({ 'retry-after': '1' });
    }
    count(this.requests, tenantId, tier);
    this.current++;
    this.perTier.set(tier, this.perTier.get(tier)! + 1);
    (request as Holder)[HELD] = tier;
  }

  /** Gives the request's place back; a request that holds none (refused earlier, or released already) is a no-op. */
  release(request: object): void {
    const tier = (request as Holder)[HELD];
    if (tier === undefined) return;
    delete (request as Holder)[HELD];
    this.current--;
    this.perTier.set(tier, this.perTier.get(tier)! - 1);
  }

  /** Requests in flight on this instance. */
  get inFlight(): number {
    return this.current;
  }

  /** `GET /v1/admin/priority/stats`: the seed's shape, for this instance. */
  stats() {
    const tiers = this.settings.tiers;
    return {
      object: 'priority_stats' as const,
      data: {
        currentConcurrent: this.current,
        maxConcurrent: this.settings.maxConcurrent,
        perTierConcurrent: Object.fromEntries(tiers.map((t) => [t.name, this.perTier.get(t.name)!])),
        perTierThresholdPct: Object.fromEntries(tiers.map((t) => [t.name, t.thresholdPct])),
      },
    };
  }

  /** Admitted requests per tenant and tier, for `gateway_priority_requests_total`. */
  admittedSeries(): [string[], number][] {
    return [...this.requests.values()].map((s) => [s.labels, s.n]);
  }

  /** Refused requests per tenant and tier, for `gateway_priority_throttled_total`. */
  throttledSeries(): [string[], number][] {
    return [...this.throttled.values()].map((s) => [s.labels, s.n]);
  }
}

function count(series: Map<string, Series>, tenant: string, tier: string): void {
  const key = `${tenant}\u0000${tier}`;
  const s = series.get(key);
  if (s) s.n++;
  else series.set(key, { labels: [tenant, tier], n: 1 });
}
