import type { RouteState } from '../resources';
import type { ConfigSnapshot } from '../store/snapshot';

/** An LLM route: one with a `model_pattern`. */
export type LlmRoute = RouteState & { model_pattern: string };

const servesLlm = (r: RouteState): r is LlmRoute => r.enabled && r.model_pattern !== null;

const compiled = new Map<string, RegExp>();

/** `gpt*` style patterns: `*` matches any run of characters, everything else literally. Compiled once per pattern. */
export function globMatch(pattern: string, value: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    compiled.set(pattern, re);
  }
  return re.test(value);
}

/** LLM routes a tenant may use for `model`: its own before global ones, then by priority (highest first), then id. */
export function llmRoutes(snapshot: ConfigSnapshot, tenantId: string, model?: string): readonly LlmRoute[] {
  const candidates = snapshot.memo(`llm-routes:${tenantId}`, () =>
    [...snapshot.ownedBy('route', tenantId), ...snapshot.ownedBy('route', null)]
      .filter(servesLlm)
      .sort(
        (a, b) =>
          Number(b.tenant_id !== null) - Number(a.tenant_id !== null) ||
          b.priority - a.priority ||
          a.id.localeCompare(b.id),
      ),
  );
  return model === undefined ? candidates : candidates.filter((r) => globMatch(r.model_pattern, model));
}
