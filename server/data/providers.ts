import { ApiError } from '../errors';
import { decryptSecret } from '../lib/secrets';
import { egressFor, type Egress, type EgressAllow } from '../net/egress';
import type { CredentialState, RouteState } from '../resources';
import type { ConfigSnapshot } from '../store/snapshot';
import { circuitKey, splitUrl } from './upstream';

/** One entry of an LLM route's `providers`, as the route definition declares it. */
export type RouteProvider = RouteState['providers'][number];

/** Where a provider's OpenAI-compatible API lives when the route does not say. */
const DEFAULT_BASE_URLS: Record<string, string> = { openai: 'https://api.openai.com/v1' };

const counters = new Map<string, number>();

/**
 * The providers to try, in order, for one call. `model-prefix` and `fallback` keep the route's order (fallback moves on
 * when one fails); `weighted` draws the first by weight; `round-robin` rotates the start per route.
 */
export function providerOrder(route: RouteState, random = Math.random): readonly RouteProvider[] {
  const list = route.providers;
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
export const failsOver = (route: RouteState) => route.strategy !== 'model-prefix';

export function baseUrlOf(p: RouteProvider): string {
  const url = p.base_url ?? DEFAULT_BASE_URLS[p.provider];
  if (!url) throw new ApiError('UPSTREAM_ERROR', `Provider "${p.provider}" has no base_url on this route`);
  return url.replace(/\/+$/, '');
}

/**
 * A base URL the tenant chose: a tenant-owned route's provider with its own `base_url`. Only the tenant's own
 * credentials go there; a global credential is only ever sent where the platform chose (a global route's
 * `base_url`, or the provider's default).
 */
export const tenantChoseUrl = (route: RouteState, p: RouteProvider) => route.tenant_id !== null && p.base_url !== null;

/** Whether a credential may serve provider `p` for `tenantId` (`ownOnly`: only the tenant's own may). */
const usable = (c: CredentialState | undefined, p: RouteProvider, tenantId: string, ownOnly: boolean) =>
  c !== undefined &&
  c.status === 'ACTIVE' &&
  c.provider === p.provider &&
  (c.tenant_id === tenantId || (c.tenant_id === null && !ownOnly));

function firstUsable(list: readonly CredentialState[], p: RouteProvider, tenantId: string, ownOnly: boolean) {
  for (const c of list) if (usable(c, p, tenantId, ownOnly)) return c;
  return undefined;
}

/**
 * The API key to send upstream: the route provider's `credential_id` (resolved in the route's tenant, then global),
 * else the tenant's active credential for the provider, else a global one (CONTRACT.md section 3), except that a URL
 * the tenant chose gets none but the tenant's own (`tenantChoseUrl`). Opened from the snapshot, never the database.
 */
export function resolveCredential(
  snapshot: ConfigSnapshot,
  masterKey: Buffer,
  tenantId: string,
  route: RouteState,
  p: RouteProvider,
): string {
  const ownOnly = tenantChoseUrl(route, p);
  let chosen = p.credential_id ? snapshot.get('credential', p.credential_id, route.tenant_id) : undefined;
  if (!usable(chosen, p, tenantId, ownOnly)) {
    chosen =
      firstUsable(snapshot.ownedBy('credential', tenantId), p, tenantId, ownOnly) ??
      firstUsable(snapshot.ownedBy('credential', null), p, tenantId, ownOnly);
  }
  const sealed = chosen && snapshot.sealedSecret(chosen);
  if (!chosen || !sealed) {
    if (ownOnly) {
      const message =
        `No active credential of tenant "${tenantId}" for provider "${p.provider}": route "${route.id}" sends it ` +
        "to its own base_url, where only the tenant's own credentials go";
      throw new ApiError('NO_CREDENTIAL', message);
    }
    const message = `No active credential for provider "${p.provider}" (route, tenant "${tenantId}" or global)`;
    throw new ApiError('NO_CREDENTIAL', message);
  }
  // opened once per credential version (its entry) and kept until the next configuration change
  const opened = snapshot.memo('credential-keys', () => new Map<CredentialState, string>());
  let key = opened.get(chosen);
  if (key === undefined) opened.set(chosen, (key = decryptSecret(masterKey, sealed)));
  return key;
}

/** Where one provider of a route is called, worked out once per configuration rather than per request. */
export interface ProviderTarget {
  /** The base URL, without a trailing slash. */
  upstream: string;
  origin: string;
  /** `…/chat/completions` under the base URL's path. */
  path: string;
  /** The provider's own circuit on this route. */
  circuit: string;
  /** Restricted to public addresses when the tenant chose the URL. */
  egress: Egress;
  label: string;
}

/** A route provider's target (see `ProviderTarget`); kept per snapshot, keyed by the provider's entry. */
export function providerTarget(
  snapshot: ConfigSnapshot,
  allow: EgressAllow,
  route: RouteState,
  p: RouteProvider,
): ProviderTarget {
  const targets = snapshot.memo('llm-provider-targets', () => new Map<RouteProvider, ProviderTarget>());
  let target = targets.get(p);
  if (!target) {
    const base = baseUrlOf(p);
    const index = route.providers.indexOf(p);
    target = {
      upstream: base,
      ...splitUrl(`${base}/chat/completions`),
      circuit: circuitKey(route, { index, name: p.provider }),
      egress: egressFor(allow, tenantChoseUrl(route, p)),
      label: `provider "${p.provider}"`,
    };
    targets.set(p, target);
  }
  return target;
}
