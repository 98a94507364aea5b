import { z } from 'zod';
import { CREATION_ORDER, RESOURCES, type ResourceDefinition } from '../server/resources';
import { creationOrder, dependenciesOf } from '../server/resources/order';
import { schemasFor } from '../server/resources/schemas';

const definitions: readonly ResourceDefinition[] = RESOURCES;

/** Every definition comes after each kind it depends on. */
function expectParentsFirst(order: readonly ResourceDefinition[]): void {
  const seen = new Set<string>();
  for (const def of order) {
    for (const needed of dependenciesOf(def, order)) expect([def.kind, seen.has(needed)]).toEqual([def.kind, true]);
    seen.add(def.kind);
  }
}

describe('facts the definitions declare', () => {
  test('the creation order puts tenants and referenced kinds first, whatever order the registry lists them in', () => {
    expect(CREATION_ORDER.map((d) => d.kind).sort()).toEqual(definitions.map((d) => d.kind).sort());
    expectParentsFirst(CREATION_ORDER);
    expectParentsFirst(creationOrder([...definitions].reverse()));
    const budget = definitions.find((d) => d.kind === 'budget')!;
    expect(dependenciesOf(budget, definitions).sort()).toEqual(['api_key', 'tenant']);
  });

  test('references that form a cycle are refused', () => {
    const [a, b] = definitions.filter((d) => d.scope === 'platform');
    const cyclic: ResourceDefinition[] = [
      { ...a!, references: { x: b!.kind } },
      { ...b!, references: { y: a!.kind } },
    ];
    expect(() => creationOrder(cyclic)).toThrow(/cycle/);
  });

  test.each(definitions.map((d) => [d.kind, d] as const))(
    '%s: every field is described in its JSON schema',
    (_kind, def) => {
      const schema = z.toJSONSchema(schemasFor(def).create, { io: 'input', unrepresentable: 'any' }) as {
        properties: Record<string, { description?: string }>;
      };
      for (const field of Object.keys(def.fields.shape))
        expect([field, schema.properties[field]?.description]).toEqual([field, expect.any(String)]);
    },
  );

  test.each(definitions.map((d) => [d.kind, d] as const))(
    '%s: exported, or says why not; declares its events',
    (_kind, def) => {
      expect(!!def.exportKey).not.toBe(!!def.notExported);
      if (def.updatable !== false) expect(def.audit.updated).toEqual(expect.any(String));
      if (def.versioned) expect(def.audit.rolledBack).toEqual(expect.any(String));
      expect(def.plural).toEqual(expect.any(String));
    },
  );
});
