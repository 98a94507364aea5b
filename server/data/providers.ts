import { ApiError } from '../errors';
import { decryptSecret } from '../lib/secrets';
import type { ConfigSnapshot, SnapshotEntry } from '../store/snapshot';

export interface RouteProvider {
  provider: string;
  model: string | null;
  base_url: string | null;
  credential_id: string | null;
  weight: number;
  timeout_ms: number | null;
}

/** Where a provider's OpenAI-compatible API lives when the route does not say. */
const DEFAULT_BASE_URLS: Record<string, string> = { openai: 'https://api.openai.com/v1' };

const counters = new Map<string, number>();

/**
 * The providers to try, in order, for one call. `model-prefix` and `fallback` keep the route's order (fallback moves on
 * when one fails); `weighted` draws the first by weight; `round-robin` rotates the start per route.
 */
export function providerOrder(route: SnapshotEntry, random = Math.random): RouteProvider[] {
  const list = (route.providers as RouteProvider[]) ?? [];
  if (list.length < 2) return list;
  if (route.strategy === 'round-robin') {
    const n = counters.get(route.id) ?? 0;
    counters.set(route.id, n + 1);
    const start = n % list.length;
    return [...list.slice(start), ...list.slice(0, start)];
  }
  if (route.strategy === 'weighted') {
    const total = list.reduce((s, p) => s + p.weight, 0);
    let pick = random() * total;
    const first = list.find((p) => (pick -= p.weight) < 0) ?? list[0]!;
    return [first, ...list.filter((p) => p !== first)];
  }
  return list;
}

/** Whether a failed provider may hand the call to the next one. */
export const failsOver = (route: SnapshotEntry) => route.strategy !== 'model-prefix';

export function baseUrlOf(p: RouteProvider): string {
  const url = p.base_url ?? DEFAULT_BASE_URLS[p.provider];
  if (!url) throw new ApiError('UPSTREAM_ERROR', `Provider "${p.provider}" has no base_url on this route`);
  return url.replace(/\/+$/, '');
}

/**
 * The API key to send upstream: the route provider's `credential_id`, else the tenant's active credential for the
 * provider, else a global one (CONTRACT.md section 3). Opened from the snapshot, never from the database.
 */
export function resolveCredential(snapshot: ConfigSnapshot, masterKey: Buffer, tenantId: string, p: RouteProvider): string {
  const usable = (c: SnapshotEntry | undefined) => c && c.status === 'ACTIVE' && c.provider === p.provider && (c.tenant_id === null || c.tenant_id === tenantId);
  let chosen: SnapshotEntry | undefined;
  if (p.credential_id) chosen = snapshot.get('credential', p.credential_id);
  if (!usable(chosen)) {
    const all = snapshot.all('credential').filter(usable);
    chosen = all.find((c) => c.tenant_id === tenantId) ?? all.find((c) => c.tenant_id === null);
  }
  const sealed = chosen && snapshot.sealedSecret('credential', chosen.id);
  if (!chosen || !sealed) throw new ApiError('NO_CREDENTIAL', `No active credential for provider "${p.provider}" (route, tenant "${tenantId}" or global)`);
  // opened once per credential version and kept until the next configuration change
  return snapshot.memo(`credential-key:${chosen.id}`, () => decryptSecret(masterKey, sealed));
}
