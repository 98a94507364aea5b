/**
 * Priority admission settings (seed 001, "SLA-aware priority routing"), from the environment: how many data-plane
 * requests one instance holds at once, and the share of that each tier may fill. Read once at start-up, so the
 * admission check costs no lookup.
 */
export interface PriorityTier {
  name: string;
  /** The tier is admitted while fewer than this percentage of `maxConcurrent` requests are in flight. */
  thresholdPct: number;
}

export interface PrioritySettings {
  /** Requests in flight per instance at most (the premium tier's 100 %); 0 turns admission off. */
  maxConcurrent: number;
  /** Highest threshold first: a key may only choose a tier at or below its tenant's. */
  tiers: PriorityTier[];
  /** The tier of a tenant (and key) that names none, and of anonymous requests. */
  defaultTier: string;
}

export const DEFAULT_PRIORITY_TIERS = 'premium:100,standard:80,bulk:50';

type Fail = (variable: string, message: string) => never;

const TIER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function parsePrioritySettings(env: NodeJS.ProcessEnv, fail: Fail): PrioritySettings {
  const rawMax = env.PORTICO_PRIORITY_MAX_CONCURRENT || '1000';
  if (!/^\d{1,9}$/.test(rawMax))
    fail('PORTICO_PRIORITY_MAX_CONCURRENT', `must be a whole number from 0 (off) to 999999999, got "${rawMax}"`);
  const rawTiers = env.PORTICO_PRIORITY_TIERS || DEFAULT_PRIORITY_TIERS;
  const tiers: PriorityTier[] = [];
  for (const part of rawTiers.split(',')) {
    const m = /^\s*([^:\s]+)\s*:\s*(\d{1,3})\s*$/.exec(part);
    const pct = m ? Number(m[2]) : NaN;
    if (!m || !TIER_NAME.test(m[1]!) || pct < 1 || pct > 100)
      fail('PORTICO_PRIORITY_TIERS', `must be name:percent pairs (1 to 100) such as "${DEFAULT_PRIORITY_TIERS}"`);
    if (tiers.some((t) => t.name === m![1])) fail('PORTICO_PRIORITY_TIERS', `names the tier "${m![1]}" twice`);
    tiers.push({ name: m![1]!, thresholdPct: pct });
  }
  tiers.sort((a, b) => b.thresholdPct - a.thresholdPct);
  const defaultTier = env.PORTICO_PRIORITY_DEFAULT_TIER || (tiers.some((t) => t.name === 'standard') ? 'standard' : '');
  if (!tiers.some((t) => t.name === defaultTier))
    fail('PORTICO_PRIORITY_DEFAULT_TIER', `must be one of the tiers (${tiers.map((t) => t.name).join(', ')})`);
  return { maxConcurrent: Number(rawMax), tiers, defaultTier };
}
