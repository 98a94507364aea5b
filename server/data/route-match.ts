import type { ConfigSnapshot, SnapshotEntry } from '../store/snapshot';

const compiled = new Map<string, RegExp>();

/** `gpt*` style patterns: `*` matches any run of characters, everything else literally. Compiled once per pattern. */
export function globMatch(pattern: string, value: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    compiled.set(pattern, re);
  }
  return re.test(value);
}

/** LLM routes a tenant may use for `model`: its own before global ones, then by priority (highest first), then id. */
export function llmRoutes(snapshot: ConfigSnapshot, tenantId: string, model?: string): readonly SnapshotEntry[] {
  const candidates = snapshot.memo(`llm-routes:${tenantId}`, () =>
    snapshot
      .all('route')
      .filter((r) => r.enabled === true && typeof r.model_pattern === 'string' && (r.tenant_id === tenantId || r.tenant_id === null))
      .sort((a, b) => Number(b.tenant_id !== null) - Number(a.tenant_id !== null) || Number(b.priority) - Number(a.priority) || a.id.localeCompare(b.id)),
  );
  return model === undefined ? candidates : candidates.filter((r) => globMatch(r.model_pattern as string, model));
}
