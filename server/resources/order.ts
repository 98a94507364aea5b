import type { ResourceDefinition } from './define';

/**
 * The kinds that must exist before a resource of `def` can: its tenant (for tenant-owned kinds) and the kinds its
 * `references` name.
 */
export function dependenciesOf(def: ResourceDefinition, all: readonly ResourceDefinition[]): string[] {
  const needs = new Set(Object.values(def.references ?? {}));
  if (def.scope === 'tenant' || def.scope === 'tenant-optional') {
    for (const other of all) if (other.scope === 'tenant-self') needs.add(other.kind);
  }
  needs.delete(def.kind);
  return [...needs];
}

/**
 * The definitions in an order where each comes after everything it depends on (`dependenciesOf`): creates run in
 * it, deletes in reverse. Ties keep the given order. A cycle of references is a mistake in the definitions: it throws.
 */
export function creationOrder<D extends ResourceDefinition>(defs: readonly D[]): D[] {
  const known = new Set(defs.map((d) => d.kind));
  const placed = new Set<string>();
  const order: D[] = [];
  const rest = [...defs];
  while (rest.length) {
    const ready = rest.findIndex((d) => dependenciesOf(d, defs).every((k) => placed.has(k) || !known.has(k)));
    if (ready < 0) throw new Error(`Resource references form a cycle among ${rest.map((d) => d.kind).join(', ')}`);
    const [next] = rest.splice(ready, 1);
    order.push(next!);
    placed.add(next!.kind);
  }
  return order;
}
