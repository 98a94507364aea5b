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
  since: string;
  evaluated: number;
  /** Requests per verdict (allow, deny, redact, limit, require_approval). */
  verdicts: Partial<Record<Verdict, number>>;
  /** The most recent requests it would have acted on (anything but allow), newest first. */
  samples: ShadowSample[];
}

/** Samples kept per policy. */
export const KEPT_SAMPLES = 20;

/**
 * What SHADOW policies would have done on live traffic, per policy, in memory on this node: counts per verdict and
 * the last samples it would have acted on. Promotion (or any status change out of SHADOW) clears a policy's entry.
 * One per gateway process, shared by its data plane (which records) and admin API (which reads).
 */
export class ShadowStats {
  private readonly byPolicy = new Map<string, ShadowReport>();

  private static key(tenantId: string | null, id: string): string {
    return `${tenantId ?? ''}/${id}`;
  }

  record(d: Decision, sample: Omit<ShadowSample, 'verdict' | 'reason' | 'at'>): void {
    const key = ShadowStats.key(d.tenant_id, d.policy_id);
    let report = this.byPolicy.get(key);
    if (!report)
      this.byPolicy.set(key, (report = { since: new Date().toISOString(), evaluated: 0, verdicts: {}, samples: [] }));
    report.evaluated++;
    report.verdicts[d.verdict] = (report.verdicts[d.verdict] ?? 0) + 1;
    if (d.verdict === 'allow' || d.verdict === 'skip') return;
    report.samples.unshift({ at: new Date().toISOString(), ...sample, verdict: d.verdict, reason: d.reason });
    if (report.samples.length > KEPT_SAMPLES) report.samples.length = KEPT_SAMPLES;
  }

  report(tenantId: string | null, id: string): ShadowReport | undefined {
    return this.byPolicy.get(ShadowStats.key(tenantId, id));
  }

  clear(tenantId: string | null, id: string): void {
    this.byPolicy.delete(ShadowStats.key(tenantId, id));
  }
}

const perGateway = new WeakMap<object, ShadowStats>();

/** The shadow statistics of one gateway process (keyed by its shared state object). */
export function shadowStatsOf(gateway: object): ShadowStats {
  let stats = perGateway.get(gateway);
  if (!stats) perGateway.set(gateway, (stats = new ShadowStats()));
  return stats;
}
