import type { RouteState } from '../resources';
import type { ConfigSnapshot } from '../store/snapshot';
import { PrefixTree } from './route-match-tree';

/** An HTTP route: one with a `path_prefix`. */
export type HttpRoute = RouteState & { path_prefix: string };

const servesHttp = (r: RouteState): r is HttpRoute => r.enabled && r.path_prefix !== null;

/** The enabled HTTP routes of one path prefix, grouped the way the choice between them is made. */
interface PrefixGroup {
  prefix: string;
  /** Whether the prefix ends with "/": then any path that starts with it is under it. */
  endsWithSlash: boolean;
  /** The global routes, best first: priority, then id. */
  global: HttpRoute[];
  /** Each tenant's routes, best first. */
  byTenant: Map<string, HttpRoute[]>;
  /** Every tenant's routes in snapshot order: an anonymous request's pick between two tenants depends on it. */
  tenants: HttpRoute[];
}

/** Higher priority first, then the smaller id (compared by code unit, as the choice always has). */
const byPriorityThenId = (a: HttpRoute, b: HttpRoute) =>
  b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The snapshot's HTTP routes in a radix tree by path prefix: built once per change of the routes, by the data plane
 * right after the change is read (`followHttpRoutes`), so no request waits for it.
 */
function routeIndex(snapshot: ConfigSnapshot): PrefixTree<PrefixGroup> {
  return snapshot.memo(
    'http-route-index',
    () => {
      const tree = new PrefixTree<PrefixGroup>();
      const groups: PrefixGroup[] = [];
      for (const r of snapshot.all('route')) {
        if (!servesHttp(r)) continue;
        const group = tree.upsert(r.path_prefix, () => {
          const made = { prefix: r.path_prefix, endsWithSlash: r.path_prefix.endsWith('/') };
          groups.push({ ...made, global: [], byTenant: new Map(), tenants: [] });
          return groups[groups.length - 1]!;
        });
        if (r.tenant_id === null) group.global.push(r);
        else {
          group.tenants.push(r);
          const own = group.byTenant.get(r.tenant_id);
          if (own) own.push(r);
          else group.byTenant.set(r.tenant_id, [r]);
        }
      }
      for (const g of groups) {
        g.global.sort(byPriorityThenId);
        for (const own of g.byTenant.values()) own.sort(byPriorityThenId);
      }
      return tree;
    },
    ['route'],
  );
}

/**
 * Builds the route index now and again after each load or route change, before the next request can ask for it.
 * Returns what stops following.
 */
export function followHttpRoutes(snapshot: ConfigSnapshot): () => void {
  const build = () => void routeIndex(snapshot);
  const onChange = (kind: string) => kind === 'route' && build();
  build();
  snapshot.on('reload', build);
  snapshot.on('change', onChange);
  return () => {
    snapshot.off('reload', build);
    snapshot.off('change', onChange);
  };
}

/** Whether `path`, which starts with the group's prefix, is under it at a segment boundary (`/api` not `/apix`). */
const atBoundary = (path: string, g: PrefixGroup) =>
  g.endsWithSlash || path.length === g.prefix.length || path.charCodeAt(g.prefix.length) === 47; /* "/" */

const serves = (r: HttpRoute, method: string) =>
  r.methods.length === 0 || (r.methods as readonly string[]).includes(method);

function firstServing(routes: readonly HttpRoute[] | undefined, method: string): HttpRoute | undefined {
  if (routes) for (const r of routes) if (serves(r, method)) return r;
  return undefined;
}

/**
 * Among tenants' routes at one prefix, for a request without a key: between two tenants (data from before paths were
 * owned, see issue 11) the smaller id, never the higher priority, which the squatter would set; within one tenant
 * its priority. This relation can go round in a circle, so the routes are taken in snapshot order, as ever.
 */
function anonymousPick(routes: readonly HttpRoute[], method: string): HttpRoute | undefined {
  let best: HttpRoute | undefined;
  for (const r of routes) {
    if (!serves(r, method)) continue;
    if (!best) best = r;
    else if (r.tenant_id !== best.tenant_id ? r.id < best.id : byPriorityThenId(r, best) < 0) best = r;
  }
  return best;
}

/**
 * The HTTP route for a request: enabled, path under its `path_prefix`, method listed (an empty list allows all).
 * With a key, only the key's tenant's routes and global ones are candidates: longest prefix wins, then the tenant's
 * own route over a global one, then priority. Without a key, a global (platform) route that matches wins over any
 * tenant's, whatever the prefixes, so no tenant can capture anonymous traffic meant for the platform; among tenants'
 * routes the longest prefix wins, and between two tenants at the same prefix the smaller id (see `anonymousPick`).
 *
 * The prefixes of the path are found in the route index (one step per edge of the tree, not one per route), then
 * tried longest first.
 */
export function matchHttpRoute(
  snapshot: ConfigSnapshot,
  method: string,
  path: string,
  tenantId: string | null,
): HttpRoute | undefined {
  const groups: PrefixGroup[] = [];
  routeIndex(snapshot).prefixesOf(path, groups);
  let tenantsPick: HttpRoute | undefined;
  for (let k = groups.length - 1; k >= 0; k--) {
    const g = groups[k]!;
    if (!atBoundary(path, g)) continue;
    if (tenantId !== null) {
      const found = firstServing(g.byTenant.get(tenantId), method) ?? firstServing(g.global, method);
      if (found) return found;
    } else {
      const found = firstServing(g.global, method);
      if (found) return found;
      tenantsPick ??= anonymousPick(g.tenants, method);
    }
  }
  return tenantsPick;
}
