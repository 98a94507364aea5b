import { RESOURCES, type Kind, type ResourceDefinition } from '../server/resources';
import { testDialects } from './support/databases';
import { created, uniqueId } from './support/fixtures';
import { startTestGateway, type TestGateway } from './support/gateway';
import { storedState } from './support/stored-state';

/**
 * Every kind of the registry through its REST API: create → get → list → update → delete, each step audited, and
 * bad bodies (derived from the definition's own field schemas) refused with a 400 naming the field, writing nothing.
 */

interface Sample {
  /** A minimal valid create body (without `id` for caller-named kinds and `tenant_id` for tenant-owned ones). */
  create(): Record<string, unknown>;
  /** Fields a PUT changes (the rest of the body is the create body's). */
  update: Record<string, unknown>;
}

/** What the definitions cannot say: a valid body per kind. A new kind must add one here (the test fails without). */
const SAMPLES: Record<Kind, Sample> = {
  rate_limit_tier: { create: () => ({ limit: 10, window_secs: 60 }), update: { limit: 20 } },
  tenant: { create: () => ({ name: 'CRUD tenant' }), update: { name: 'Renamed tenant' } },
  api_key: { create: () => ({ name: 'crud key' }), update: { name: 'renamed key' } },
  token: { create: () => ({ name: 'crud token', role: 'policy-admin' }), update: {} },
  credential: {
    create: () => ({ provider: 'openai', api_key: 'sk-crud-test-0123456789' }),
    update: { name: 'renamed credential' },
  },
  pricing: {
    create: () => ({
      provider: 'openai',
      model: uniqueId('model'),
      input_per_million_usd: 1,
      output_per_million_usd: 2,
    }),
    update: { input_per_million_usd: 3 },
  },
  service: {
    create: () => ({ name: 'crud service', target_url: 'http://127.0.0.1:9/svc' }),
    update: { name: 'renamed service' },
  },
  route: {
    create: () => ({ model_pattern: `${uniqueId('crud')}*`, providers: [{ provider: 'openai' }] }),
    update: { description: 'changed' },
  },
  budget: { create: () => ({ limit_usd: 10 }), update: { limit_usd: 20 } },
  policy: {
    create: () => ({ name: 'crud policy', type: 'rate_limit', target: 'global', body: 'limit: 10\nwindow_secs: 60\n' }),
    update: { priority: 5 },
  },
  webhook: {
    create: () => ({ url: 'https://hooks.example.com/crud', events: ['*'] }),
    update: { events: ['TENANT_CREATED'] },
  },
  schema: {
    create: () => ({ schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } }),
    update: { schema: { type: 'object', properties: { age: { type: 'integer' } } } },
  },
  user: {
    create: () => ({
      email: `${uniqueId('crud')}@example.com`,
      name: 'Crud User',
      role: 'owner',
      password: 'a long password',
    }),
    update: { name: 'Renamed User' },
  },
  prompt_template: {
    create: () => ({ name: 'greeting', template: 'Hello {{who}}', variables: ['who'] }),
    update: { template: 'Hi {{who}}!' },
  },
  mcp_server: {
    create: () => ({ name: 'crud mcp', url: 'https://mcp.example.com/mcp', auth_header: 'Bearer crud-secret' }),
    update: { name: 'renamed mcp' },
  },
};

function sampleFor(def: ResourceDefinition): Sample {
  const sample = (SAMPLES as Record<string, Sample | undefined>)[def.kind];
  if (!sample)
    throw new Error(`No sample body for the kind "${def.kind}": add one to SAMPLES in test/resource-crud.test.ts`);
  return sample;
}

/** The first of these a field's own schema refuses: a value of the wrong type for it. */
const WRONG_VALUES: unknown[] = [12345, 'not-valid', true, [], {}, null];
function wrongValueFor(def: ResourceDefinition, field: string): unknown {
  const schema = def.fields.shape[field] as { safeParse(v: unknown): { success: boolean } };
  const wrong = WRONG_VALUES.find((v) => !schema.safeParse(v).success);
  if (wrong === undefined) throw new Error(`No value of WRONG_VALUES is refused by ${def.kind}.${field}: add one`);
  return wrong;
}

const without = (body: Record<string, unknown>, ...fields: (string | undefined)[]) =>
  Object.fromEntries(Object.entries(body).filter(([k]) => !fields.includes(k)));

describe.each(testDialects())('resource CRUD through the REST API (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
  });
  afterAll(() => t?.close());

  test('every kind of the registry has a sample body', () => {
    expect(
      RESOURCES.filter((def) => !(SAMPLES as Record<string, Sample | undefined>)[def.kind]).map((def) => def.kind),
    ).toEqual([]);
  });

  /** A fresh tenant (for tenant-owned kinds), the collection path, and a valid create body. */
  const prepare = async (def: ResourceDefinition) => {
    const tenantId = (await created(t, '/v1/admin/tenants', { id: uniqueId('owner'), name: 'Owner' })).id as string;
    const collection = `/v1/admin${def.path.replace('{tenant_id}', tenantId)}`;
    const body = {
      ...(def.id.source === 'caller' ? { id: uniqueId(def.kind.replace(/_/g, '-')) } : {}),
      ...(def.scope === 'tenant' && !def.path.includes('{tenant_id}') ? { tenant_id: tenantId } : {}),
      ...sampleFor(def).create(),
    };
    return { collection, body };
  };
  const latestEvent = async () => (await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0];
  const listIds = async (collection: string) =>
    (await t.api('GET', `${collection}?limit=500`)).body.data.map((r: { id: string }) => r.id);

  const stored = () => storedState(t);

  test.each(RESOURCES.map((def) => [def.kind, def] as const))(
    '%s: create, get, list, update, delete, each audited',
    async (_kind, def: ResourceDefinition) => {
      const { collection, body } = await prepare(def);
      const secretField = def.secret?.field;

      const create = await t.api('POST', collection, body);
      expect([create.status, create.text]).toEqual([201, expect.any(String)]);
      const id = create.body.id as string;
      expect(create.body).toMatchObject(without(body, secretField));
      expect(await latestEvent()).toMatchObject({ type: def.audit.created, resource: { kind: def.kind, id } });

      const read = await t.api('GET', `${collection}/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(without(create.body, secretField));
      expect((await t.api('GET', `${collection}?limit=500`)).body.data).toContainEqual(read.body);

      const replacement = { ...without(body, 'id', 'tenant_id', secretField), ...sampleFor(def).update };
      const put = await t.api('PUT', `${collection}/${id}`, replacement);
      if (def.updatable === false) {
        expect(put.status).toBe(404); // no PUT at all: every change is a replacement
        expect((await t.api('GET', `${collection}/${id}`)).body).toEqual(read.body);
      } else {
        expect(put.status).toBe(200);
        expect(put.body).toMatchObject({ ...sampleFor(def).update, id });
        expect((await t.api('GET', `${collection}/${id}`)).body).toEqual(put.body);
        expect(await latestEvent()).toMatchObject({ type: def.audit.updated, resource: { kind: def.kind, id } });
        if (def.versioned) {
          expect(put.body.version).toBe(read.body.version + 1);
          expect((await t.api('GET', `${collection}/${id}/versions`)).body.data).toHaveLength(2);
        }
      }

      expect((await t.api('DELETE', `${collection}/${id}`)).status).toBe(204);
      expect((await t.api('GET', `${collection}/${id}`)).status).toBe(404);
      expect(await listIds(collection)).not.toContain(id);
      expect(await latestEvent()).toMatchObject({ type: def.audit.deleted, resource: { kind: def.kind, id } });
    },
  );

  test.each(RESOURCES.map((def) => [def.kind, def] as const))(
    '%s: a bad create body is a 400 naming the field, and nothing is written',
    async (_kind, def: ResourceDefinition) => {
      const { collection, body } = await prepare(def);
      const before = await stored();
      const listed = await listIds(collection);
      const cases: [Record<string, unknown>, string][] = [
        [{ ...body, not_a_field: 1 }, 'not_a_field'],
        ...Object.keys(def.fields.shape).map((field): [Record<string, unknown>, string] => [
          { ...body, [field]: wrongValueFor(def, field) },
          field,
        ]),
      ];
      for (const [bad, field] of cases) {
        const res = await t.api('POST', collection, bad);
        expect([field, res.status, res.body.error.code]).toEqual([field, 400, 'VALIDATION_FAILED']);
        expect(res.body.error.details.map((d: { path: string }) => d.path.split('.')[0])).toContain(field);
      }
      expect(await listIds(collection)).toEqual(listed);
      expect(await stored()).toEqual(before);
    },
  );

  test.each(RESOURCES.filter((def) => def.updatable !== false).map((def) => [def.kind, def] as const))(
    '%s: a bad update body is a 400 naming the field, and nothing is written (no audit event, no version)',
    async (_kind, def: ResourceDefinition) => {
      const { collection, body } = await prepare(def);
      const id = (await created(t, collection, body)).id as string;
      const replacement = without(body, 'id', 'tenant_id', def.secret?.field);
      const before = await stored();
      const read = (await t.api('GET', `${collection}/${id}`)).body;
      const mutable = Object.keys(def.fields.shape).filter((f) => !def.immutable?.includes(f as never));
      const cases: [Record<string, unknown>, string][] = [
        [{ ...replacement, not_a_field: 1 }, 'not_a_field'],
        ...mutable.map((field): [Record<string, unknown>, string] => [
          { ...replacement, [field]: wrongValueFor(def, field) },
          field,
        ]),
      ];
      for (const [bad, field] of cases) {
        const res = await t.api('PUT', `${collection}/${id}`, bad);
        expect([field, res.status, res.body.error.code]).toEqual([field, 400, 'VALIDATION_FAILED']);
        expect(res.body.error.details.map((d: { path: string }) => d.path.split('.')[0])).toContain(field);
      }
      expect((await t.api('GET', `${collection}/${id}`)).body).toEqual(read);
      expect(await stored()).toEqual(before);
    },
  );
});
