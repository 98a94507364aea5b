import type { RouteState } from '../resources';
import type { ConfigSnapshot } from '../store/snapshot';
import { globMatch } from '../lib/glob';
import { PrefixTree } from './route-match-tree';

/** An LLM route: one with a `model_pattern`. */
export type LlmRoute = RouteState & { model_pattern: string };

const servesLlm = (r: RouteState): r is LlmRoute => r.enabled && r.model_pattern !== null;

/** What the LLM route indexes are derived from: only a route change drops them. */
const ROUTES = ['route'] as const;

/** One owner's LLM routes, best first, and the same routes in a radix tree by the literal head of their pattern. */
interface OwnerRoutes {
  sorted: readonly LlmRoute[];
  /** By the pattern's text before its first `*` (the whole pattern when it has none): the routes and their rank. */
  byHead: PrefixTree<{ route: LlmRoute; rank: number; exact: boolean }[]>;
}

/** A tenant's own LLM routes (`tenantId`) or the global ones (`null`): by priority (highest first), then id. */
function ownerRoutes(snapshot: ConfigSnapshot, tenantId: string | null): OwnerRoutes {
  return snapshot.memo(
    tenantId === null ? 'llm-routes-global' : `llm-routes:${tenantId}`,
    () => {
      const sorted = snapshot
        .ownedBy('route', tenantId)
        .filter(servesLlm)
        .sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
      const byHead = new PrefixTree<{ route: LlmRoute; rank: number; exact: boolean }[]>();
      sorted.forEach((route, rank) => {
        const star = route.model_pattern.indexOf('*');
        const head = star < 0 ? route.model_pattern : route.model_pattern.slice(0, star);
        byHead.upsert(head, () => []).push({ route, rank, exact: star < 0 });
      });
      return { sorted, byHead };
    },
    ROUTES,
  );
}

/** One owner's routes whose pattern matches `model`, best first: only those whose literal head the model starts with are tried. */
function matching(owner: OwnerRoutes, model: string): LlmRoute[] {
  const heads: { route: LlmRoute; rank: number; exact: boolean }[][] = [];
  owner.byHead.prefixesOf(model, heads);
  const found: { route: LlmRoute; rank: number }[] = [];
  for (const list of heads)
    for (const c of list)
      if (c.exact ? c.route.model_pattern.length === model.length : globMatch(c.route.model_pattern, model))
        found.push(c);
  if (found.length > 1) found.sort((a, b) => a.rank - b.rank);
  return found.map((c) => c.route);
}

/**
 * LLM routes a tenant may use for `model`: its own before global ones, then by priority (highest first), then id.
 * Each owner's routes are indexed once per snapshot version, so a lookup tries only the patterns that can match.
 */
export function llmRoutes(snapshot: ConfigSnapshot, tenantId: string, model?: string): readonly LlmRoute[] {
  const own = ownerRoutes(snapshot, tenantId);
  const global = ownerRoutes(snapshot, null);
  if (model === undefined)
    return snapshot.memo(`llm-routes-all:${tenantId}`, () => [...own.sorted, ...global.sorted], ROUTES);
  const mine = matching(own, model);
  const shared = matching(global, model);
  return mine.length === 0 ? shared : shared.length === 0 ? mine : [...mine, ...shared];
}
