import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { generateConstructs } from '../constructs/generate';
import { describedAs } from '../provider/descriptions';
import { walk } from '../provider/zod-walk';
import { RESOURCES } from '../server/resources';
import { generateDocs } from '../provider/docs';
import { REQUIRED_PROVIDERS_HCL } from '../provider/docs-table';
import { DATA_MODELS, MODELS, type Attribute, type ResourceModel } from '../provider/schema';
import { TerraformDir, terraformAvailable } from './support/terraform';

/** Every attribute of a model, nested ones too, with its path. */
function flatten(attrs: Attribute[], prefix = ''): [string, Attribute][] {
  return attrs.flatMap((a) => [
    [`${prefix}${a.name}`, a] as [string, Attribute],
    ...flatten(a.nested?.attributes ?? [], `${prefix}${a.name}.`),
  ]);
}

const ALL_MODELS: [string, ResourceModel][] = [
  ...MODELS.map((m) => [m.typeName, m] as [string, ResourceModel]),
  ...DATA_MODELS.map((m) => [`data.${m.typeName}`, m] as [string, ResourceModel]),
];

/** Every field of every definition, nested object fields too, by path. */
function definitionFields(): [string, z.ZodType][] {
  const out: [string, z.ZodType][] = [];
  const visit = (path: string, schema: z.ZodType) => {
    out.push([path, schema]);
    const w = walk(schema);
    const inner = w.kind === 'array' ? walk(w.element!) : w;
    for (const [k, v] of Object.entries(inner.kind === 'object' ? inner.shape! : {})) visit(`${path}.${k}`, v);
  };
  for (const def of RESOURCES)
    for (const [k, v] of Object.entries({ ...def.fields.shape, ...def.computed.shape }))
      visit(`${def.kind}.${k}`, v as z.ZodType);
  return out;
}

describe('issue 13, item 14: descriptions from the definitions', () => {
  test("at least 90% of the definitions' fields say what they are for (`.describe()`), not only their rules", () => {
    const fields = definitionFields();
    expect(fields.length).toBeGreaterThan(50);
    const described = fields.filter(([, schema]) => (describedAs(schema) ?? '').trim().length > 0);
    expect(described.length / fields.length).toBeGreaterThanOrEqual(0.9);
  });

  test('an enum attribute names each allowed value; a bounded number names its range', () => {
    const enums = ALL_MODELS.flatMap(([type, m]) =>
      flatten(m.attributes).map(([p, a]) => [`${type}.${p}`, a] as const),
    );
    const withEnum = enums.filter(([, a]) => a.enum);
    expect(withEnum.length).toBeGreaterThan(5);
    for (const [path, a] of withEnum)
      for (const value of a.enum!)
        expect([path, a.description]).toEqual([path, expect.stringContaining(`\`${value}\``)]);
    const route = MODELS.find((m) => m.typeName === 'portico_route')!;
    const byName = Object.fromEntries(flatten(route.attributes));
    expect(byName.timeout_ms!.description).toContain('An integer from 1 to 600,000.');
    expect(byName.backend_url!.description).toContain('An http(s) URL of at most 2,048 characters.');
    expect(byName['circuit_breaker.cooldown_ms']!.description).toContain('from 100 to 3,600,000');
    const budget = Object.fromEntries(flatten(MODELS.find((m) => m.typeName === 'portico_budget')!.attributes));
    expect(budget.limit_usd!.description).toContain('above 0');
  });

  test('the docs pages and the constructs JSDoc carry the same text as the schema', () => {
    const docs = generateDocs();
    const constructs = generateConstructs();
    const lookupBases = readFileSync(join(__dirname, '..', 'constructs', 'runtime.ts'), 'utf8');
    const file = (m: ResourceModel, data: boolean) =>
      data ? `data-${m.typeName.replace(/_/g, '-')}.ts` : `${m.def.kind.replace(/_/g, '-')}.ts`;
    for (const [type, m] of ALL_MODELS) {
      const data = type.startsWith('data.');
      const page = docs.get(`${data ? 'data_' : ''}${m.typeName}.md`)!;
      // a data source's arguments (id, tenant) are its look-up base's, in constructs/runtime.ts
      const code = constructs.get(file(m, data))! + (data ? lookupBases : '');
      for (const [path, a] of flatten(m.attributes).filter(([, a]) => a.description)) {
        expect([type, path, page.includes(a.description.replace(/\|/g, '\\|'))]).toEqual([type, path, true]);
        // a construct declares the nested objects it takes (its arguments'); a read-only one is a reference
        const parent = m.attributes.find((t) => t.name === path.split('.')[0])!;
        if (path.includes('.') && !(parent.required || parent.optional)) continue;
        expect([type, path, code.includes(a.description)]).toEqual([type, path, true]);
      }
    }
  });

  (terraformAvailable() ? test : test.skip)(
    'at least 90% of the attributes the provider exports have a description (terraform providers schema -json)',
    async () => {
      const tf = new TerraformDir();
      await tf.installProvider();
      tf.write('main.tf', REQUIRED_PROVIDERS_HCL);
      expect((await tf.tf('init', '-input=false', '-no-color')).code).toBe(0);
      const shown = await tf.tf('providers', 'schema', '-json');
      expect(shown.code).toBe(0);
      type Exported = {
        description?: string;
        description_kind?: string;
        nested_type?: { attributes: Record<string, Exported> };
      };
      const schemas = JSON.parse(shown.stdout).provider_schemas;
      const portico = schemas[Object.keys(schemas).find((k) => k.endsWith('/portico/portico'))!];
      const counted: [string, Exported][] = [];
      const walk = (prefix: string, attrs: Record<string, Exported>) => {
        for (const [name, a] of Object.entries(attrs)) {
          counted.push([`${prefix}.${name}`, a]);
          if (a.nested_type) walk(`${prefix}.${name}`, a.nested_type.attributes);
        }
      };
      for (const [kind, group] of [
        ['', portico.resource_schemas],
        ['data.', portico.data_source_schemas],
      ] as const)
        for (const [type, s] of Object.entries(
          group as Record<string, { block: { attributes: Record<string, Exported> } }>,
        ))
          walk(`${kind}${type}`, s.block.attributes);
      // every resource and data source attribute the models know is exported, and counted here
      expect(counted.length).toBe(ALL_MODELS.reduce((n, [, m]) => n + flatten(m.attributes).length, 0));
      const described = counted.filter(([, a]) => (a.description ?? '').trim().length > 0);
      expect(described.length / counted.length).toBeGreaterThanOrEqual(0.9);
      // markdown: the descriptions quote values and names in backticks
      expect(counted.filter(([, a]) => a.description).every(([, a]) => a.description_kind === 'markdown')).toBe(true);
      const status = counted.find(([p]) => p === 'portico_tenant.status')![1];
      expect(status.description).toContain('One of `ACTIVE`, `SUSPENDED`.');
    },
    120_000,
  );
});
