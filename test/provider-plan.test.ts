import { canonicalJson } from '../server/lib/canonical-json';
import { plain } from '../provider/problems';
import { UNKNOWN } from '../provider/cty-codec';
import { importState, planChange, same, stateOf, upgradeRawState } from '../provider/operations';
import { validateConfig, validateProviderConfig } from '../provider/validation';
import { privateAfterWrite, unsentSecretWarning } from '../provider/write-only';
import { validateDataSourceConfig } from '../provider/data-sources';
import { DATA_MODELS, dataModelByType, MODELS, modelByType, type Attribute } from '../provider/schema';

const route = modelByType('portico_route')!;
const key = modelByType('portico_api_key')!;
const webhook = modelByType('portico_webhook')!;
const nulls = (m: typeof route) => Object.fromEntries(m.attributes.map((a) => [a.name, null]));

describe('provider schema from the registry', () => {
  test('attributes carry the REST names, requirement, computed and sensitivity flags', () => {
    const attr = (m: typeof route, n: string) => m.attributes.find((a) => a.name === n)!;
    expect(attr(route, 'id')).toMatchObject({ optional: true, computed: true, requiresReplace: true });
    expect(attr(route, 'tenant_id')).toMatchObject({ optional: true, computed: false, requiresReplace: true });
    expect(attr(route, 'strategy')).toMatchObject({ optional: true, computed: true, default: 'model-prefix' });
    expect(attr(route, 'providers').nested?.nesting).toBe('list');
    expect(attr(route, 'version')).toMatchObject({ computed: true, optional: false });
    expect(attr(key, 'tenant_id')).toMatchObject({ required: true, requiresReplace: true });
    expect(attr(key, 'key')).toMatchObject({ computed: true, sensitive: true });
    expect(attr(webhook, 'secret_wo')).toMatchObject({ writeOnly: true, sensitive: true, optional: true });
    expect(attr(webhook, 'secret_wo_version')).toMatchObject({ apiName: 'secret_version' });
    expect(webhook.attributes.map((a) => a.name)).not.toContain('secret_version');
    expect(modelByType('portico_token')!.attributes.find((a) => a.name === 'role')).toMatchObject({
      required: true,
      requiresReplace: true,
    });
  });
});

describe('planning', () => {
  const config = {
    ...nulls(route),
    id: 'gpt',
    model_pattern: 'gpt*',
    providers: [
      { provider: 'openai', model: null, base_url: null, credential_id: null, weight: null, timeout_ms: null },
    ],
  };

  test('create: defaults are known at plan time (nested too); server-set values are unknown', () => {
    const { planned } = planChange(route, null, config);
    expect(planned).toMatchObject({
      id: 'gpt',
      strategy: 'model-prefix',
      enabled: true,
      priority: 0,
      methods: [],
      timeout_ms: 30000,
      rate_limit: null,
    });
    expect(planned!.providers).toEqual([
      { provider: 'openai', model: null, base_url: null, credential_id: null, weight: 1, timeout_ms: null },
    ]);
    expect([planned!.version, planned!.created_at, planned!.updated_at]).toEqual([UNKNOWN, UNKNOWN, UNKNOWN]);
  });

  test('no change: the prior state exactly (useStateForUnknown for every computed value)', () => {
    const prior = {
      ...(planChange(route, null, config).planned as object),
      version: 3,
      created_at: 'c',
      updated_at: 'u',
    } as any;
    expect(planChange(route, prior, config)).toEqual({ planned: prior, requiresReplace: [] });
  });

  test('an update keeps stable computed values and marks what the server changes unknown', () => {
    const prior = {
      ...(planChange(route, null, config).planned as object),
      version: 3,
      created_at: 'c',
      updated_at: 'u',
    } as any;
    const { planned, requiresReplace } = planChange(route, prior, { ...config, priority: 5 });
    expect(planned).toMatchObject({ priority: 5, created_at: 'c', version: UNKNOWN, updated_at: UNKNOWN });
    expect(requiresReplace).toEqual([]);
  });

  test('changing an id or a tenant requires replacement', () => {
    const prior = {
      ...(planChange(route, null, config).planned as object),
      version: 1,
      created_at: 'c',
      updated_at: 'u',
    } as any;
    expect(planChange(route, prior, { ...config, id: 'other' }).requiresReplace).toEqual(['id']);
    expect(planChange(route, prior, { ...config, tenant_id: 'acme' }).requiresReplace).toEqual(['tenant_id']);
  });

  test('destroy plans null', () => {
    expect(planChange(route, { ...nulls(route), id: 'x' }, null)).toEqual({ planned: null, requiresReplace: [] });
  });

  test('write-only secrets are never planned; the API key plaintext is kept from state', () => {
    const wh = {
      ...nulls(webhook),
      url: 'https://x.example',
      events: ['*'],
      secret_wo: 's3cret',
      secret_wo_version: 1,
    };
    expect(planChange(webhook, null, wh).planned!.secret_wo).toBeNull();
    const state = stateOf(
      key,
      { id: 'key_1', tenant_id: 't', name: 'k', prefix: 'ptc_key_ab' },
      { ...nulls(key), key: 'ptc_key_abcdef' },
    );
    expect(state.key).toBe('ptc_key_abcdef');
  });
});

describe('validation and import ids', () => {
  test('known values are checked against the resource schema, with attribute paths', () => {
    const bad = validateConfig(route, {
      ...nulls(route),
      model_pattern: 'a',
      path_prefix: '/b',
      providers: [{ provider: 'x', weight: -1 }],
    } as never);
    expect(bad.map((p) => p.path)).toEqual(['providers.0.weight']);
    const both = validateConfig(route, {
      ...nulls(route),
      model_pattern: 'a',
      path_prefix: '/b',
      providers: [{ provider: 'x' }],
    } as never);
    expect(both.map((p) => p.path)).toEqual(['path_prefix']);
    expect(
      validateConfig(route, { ...nulls(route), model_pattern: UNKNOWN, providers: [{ provider: 'x' }] } as never),
    ).toEqual([]);
  });

  test('API keys import as <tenant_id>/<key_id>; others by id', () => {
    expect(importState(key, 'acme/key_1')).toMatchObject({ tenant_id: 'acme', id: 'key_1' });
    expect(() => importState(key, 'key_1')).toThrow('"<tenant_id>/<id>"');
    expect(importState(route, 'gpt')).toMatchObject({ id: 'gpt' });
  });
});

describe('issue 13: names, revocation, server-made secrets, options, validation words, unsent secrets', () => {
  const tenant = modelByType('portico_tenant')!;
  const credential = modelByType('portico_credential')!;
  const budget = modelByType('portico_budget')!;
  const META = ['provider', 'count', 'for_each', 'depends_on', 'lifecycle', 'connection', 'provisioner'];

  test('no top-level attribute is a Terraform meta-argument: provider is provider_name, nested names stay', () => {
    for (const m of MODELS) expect(m.attributes.map((a) => a.name).filter((n) => META.includes(n))).toEqual([]);
    for (const type of ['portico_credential', 'portico_pricing'])
      expect(modelByType(type)!.attributes.find((a) => a.apiName === 'provider')).toMatchObject({
        name: 'provider_name',
        required: true,
      });
    expect(route.attributes.find((a) => a.name === 'providers')!.nested!.attributes.map((a) => a.name)).toContain(
      'provider',
    );
    expect(stateOf(credential, { id: 'c', provider: 'openai', status: 'ACTIVE' }, null)).toMatchObject({
      provider_name: 'openai',
    });
  });

  test('a revoked key is replaced; the plan shows the status it gets back', () => {
    const prior = {
      ...stateOf(
        key,
        {
          id: 'key_1',
          tenant_id: 't',
          name: 'k',
          status: 'REVOKED',
          revoked_at: 'r',
          created_at: 'c',
          updated_at: 'u',
        },
        null,
      ),
      key: 'ptc_key_x',
    };
    const config = { ...nulls(key), tenant_id: 't', name: 'k' };
    expect(planChange(key, prior, config)).toMatchObject({
      planned: { status: 'ACTIVE' },
      requiresReplace: ['status'],
    });
    expect(planChange(key, { ...prior, status: 'ACTIVE' }, config).requiresReplace).toEqual([]);
  });

  test('force_destroy alone changes the state, not the tenant (no update_at unknown, no API call planned)', () => {
    const config = { ...nulls(tenant), id: 'acme', name: 'Acme' };
    const created = {
      ...(planChange(tenant, null, config).planned as object),
      created_at: 'c',
      updated_at: 'u',
    } as any;
    expect(created.force_destroy).toBe(false);
    const { planned } = planChange(tenant, created, { ...config, force_destroy: true });
    expect(planned).toEqual({ ...created, force_destroy: true });
  });

  test("a webhook's server-made secret is planned on a create without secret_wo, and dropped once one is sent", () => {
    const base = { ...nulls(webhook), url: 'https://x.example', events: ['*'] };
    expect(planChange(webhook, null, base).planned!.secret).toBe(UNKNOWN);
    expect(planChange(webhook, null, { ...base, secret_wo: 's' }).planned!.secret).toBeNull();
    const prior = {
      ...(planChange(webhook, null, base).planned as object),
      id: 'wh_1',
      secret: 'whsec_made',
      active: true,
      secret_set: true,
      created_at: 'c',
      updated_at: 'u',
    } as any;
    expect(planChange(webhook, prior, { ...base, secret_wo: 's' }).planned!.secret).toBe('whsec_made'); // not sent yet
    expect(planChange(webhook, prior, { ...base, secret_wo: 's', secret_wo_version: 1 }).planned!.secret).toBeNull();
  });

  test('validation words come from the zod definitions: allowed values, slug rule, bounds, float64 precision', () => {
    const details = (m: typeof route, config: object) =>
      validateConfig(m, { ...nulls(m), ...config } as never).map((p) => p.detail);
    expect(details(tenant, { id: 'acme', name: 'A', status: 'PAUSED' })).toEqual([
      'status must be one of ACTIVE, SUSPENDED',
    ]);
    expect(details(budget, { tenant_id: 'acme', limit_usd: -1, period: 'MONTHLY' })).toEqual([
      'limit_usd must be more than 0',
    ]);
    expect(details(tenant, { id: 'Bad Id', name: 'A' })[0]).toMatch(/^id must be a slug: lower-case letters/);
    expect(details(tenant, { id: 'acme', name: '' })).toEqual(['name must be at least 1 character long']);
    expect(
      details(budget, { tenant_id: 'acme', limit_usd: '3.333333333333333333333333', period: 'MONTHLY' })[0],
    ).toMatch(/^limit_usd has more digits than Portico keeps/);
    expect(details(budget, { tenant_id: 'acme', limit_usd: 19.99, period: 'MONTHLY' })).toEqual([]);
    expect(details(credential, { provider_name: '' })).toEqual(['provider_name must be at least 1 character long']);
    expect(details(webhook, { url: 'https://x.example', events: ['NOPE_NOPE'] })[0]).toMatch(
      /^events\.0 is not a known event type/,
    );
    expect(validateProviderConfig({ endpoint: 'localhost:8090' }).map((p) => p.detail)).toEqual([
      'endpoint must be an http(s) URL such as http://127.0.0.1:8090',
    ]);
    expect(validateProviderConfig({ endpoint: 'https://portico.internal:8090' })).toEqual([]);
  });

  test('a changed write-only secret without a new version warns, from a salted hash in private state', async () => {
    const config = {
      ...nulls(webhook),
      url: 'https://x.example',
      events: ['*'],
      secret_wo: 'first',
      secret_wo_version: 1,
    };
    const created = {
      ...(planChange(webhook, null, config).planned as object),
      id: 'wh_1',
      active: true,
      secret_set: true,
      created_at: 'c',
      updated_at: 'u',
    } as any;
    const record = await privateAfterWrite(webhook, null, created, config, undefined);
    expect(record.toString()).not.toContain('first');
    expect(await unsentSecretWarning(webhook, created, config, record)).toEqual([]);
    const [warning] = await unsentSecretWarning(webhook, created, { ...config, secret_wo: 'second' }, record);
    expect(warning).toMatchObject({
      warning: true,
      path: 'secret_wo',
      summary: 'secret_wo changed but secret_wo_version did not',
    });
    expect(
      await unsentSecretWarning(webhook, created, { ...config, secret_wo: 'second', secret_wo_version: 2 }, record),
    ).toEqual([]);
    expect(await unsentSecretWarning(webhook, created, { ...config, secret_wo: 'second' }, Buffer.alloc(0))).toEqual(
      [],
    ); // imported: cannot know
    // an update that sends nothing keeps the record; one that rotates records the new secret
    expect(await privateAfterWrite(webhook, created, created, config, record)).toEqual(record);
    const rotated = await privateAfterWrite(
      webhook,
      created,
      { ...created, secret_wo_version: 2 },
      { ...config, secret_wo: 'second', secret_wo_version: 2 },
      record,
    );
    expect(
      await unsentSecretWarning(
        webhook,
        { ...created, secret_wo_version: 2 },
        { ...config, secret_wo: 'second', secret_wo_version: 2 },
        rotated,
      ),
    ).toEqual([]);
  });
});

describe('issue 13: states from before the rename', () => {
  test('a raw state holding `provider` upgrades to provider_name; nothing else moves', () => {
    const pricing = modelByType('portico_pricing')!;
    expect(upgradeRawState(pricing, { id: 'p', provider: 'openai', model: 'm' })).toEqual({
      id: 'p',
      provider_name: 'openai',
      model: 'm',
    });
    expect(upgradeRawState(pricing, { id: 'p', provider_name: 'openai' })).toEqual({
      id: 'p',
      provider_name: 'openai',
    });
    expect(upgradeRawState(webhook, { id: 'w', secret_wo_version: 2 })).toEqual({ id: 'w', secret_wo_version: 2 });
  });
});

describe('issue 13: data sources from the registry', () => {
  const flags = (a: Attribute): unknown => ({
    name: a.name,
    required: a.required,
    optional: a.optional,
    computed: a.computed,
    nested: a.nested?.attributes.map(flags),
  });

  test('one per listed kind: id required, tenant_id optional for tenant-owned kinds, everything else computed', () => {
    expect(DATA_MODELS.map((m) => m.typeName).sort()).toEqual(
      ['portico_credential', 'portico_rate_limit_tier', 'portico_route', 'portico_service', 'portico_tenant'].sort(),
    );
    for (const m of DATA_MODELS) {
      const resource = modelByType(m.typeName)!;
      const [id, ...rest] = m.attributes;
      expect(flags(id)).toMatchObject({ name: 'id', required: true, optional: false, computed: false });
      const tenant = rest.find((a) => a.name === 'tenant_id');
      expect(tenant !== undefined).toBe(resource.attributes.some((a) => a.name === 'tenant_id'));
      if (tenant) expect(tenant).toMatchObject({ required: false, optional: true, computed: true });
      // every reported attribute, nested ones too, is computed only: no default, nothing to replace
      const walk = (attrs: Attribute[]): Attribute[] => attrs.flatMap((a) => [a, ...walk(a.nested?.attributes ?? [])]);
      for (const a of walk(rest.filter((x) => x.name !== 'tenant_id')))
        expect([a.name, a.required, a.optional, a.computed, a.default, a.requiresReplace]).toEqual([
          a.name,
          false,
          false,
          true,
          undefined,
          false,
        ]);
    }
    expect(dataModelByType('portico_tenant')!.attributes.map((a) => a.name)).not.toContain('force_destroy');
    expect(dataModelByType('portico_api_key')).toBeUndefined();
  });

  test("a credential's data source is metadata only: no secret, its version and last 4 are read back", () => {
    const credential = dataModelByType('portico_credential')!;
    const names = credential.attributes.map((a) => a.name);
    expect(names).not.toContain('api_key_wo');
    expect(credential.attributes.some((a) => a.writeOnly || a.sensitive)).toBe(false);
    expect(names).toEqual(expect.arrayContaining(['key_last4', 'api_key_wo_version', 'provider_name', 'status']));
    expect(stateOf(credential, { id: 'c', provider: 'openai', key_version: 2, key_last4: '4242' }, null)).toMatchObject(
      { id: 'c', provider_name: 'openai', api_key_wo_version: 2, key_last4: '4242' },
    );
  });

  test('validation: a known id must be a non-empty string; an unknown one waits for apply', () => {
    const route = dataModelByType('portico_route')!;
    expect(validateDataSourceConfig(route, { id: 'r', tenant_id: null })).toEqual([]);
    expect(validateDataSourceConfig(route, { id: UNKNOWN, tenant_id: null })).toEqual([]);
    expect(validateDataSourceConfig(route, { id: ' ', tenant_id: null })).toEqual([
      expect.objectContaining({ path: 'id', detail: 'id: must be a non-empty string' }),
    ]);
  });
});

describe('issue 13: plan comparisons without serializing', () => {
  test('same() agrees with comparing canonical JSON on every pair of a matrix of values', () => {
    const values: unknown[] = [
      null,
      undefined,
      0,
      1,
      1n,
      '1',
      'a',
      true,
      false,
      [],
      [null],
      [undefined],
      [1, 2],
      [2, 1],
      {},
      { a: undefined },
      { a: null },
      { a: 1 },
      { a: 1n },
      { b: 1, a: 2 },
      { a: 2, b: 1 },
      { a: [1, { c: 'x' }] },
      { a: [1, { c: 'x', d: undefined }] },
      [[1]],
      [[1n]],
      19.99,
      '19.99',
      UNKNOWN,
    ];
    const viaJson = (a: unknown, b: unknown) => canonicalJson(plain(a)) === canonicalJson(plain(b));
    const pairs = values.flatMap((a) => values.map((b) => [a, b] as const));
    expect(pairs.filter(([a, b]) => same(a, b) !== viaJson(a, b))).toEqual([]);
    expect(pairs.filter(([a, b]) => same(a, b)).length).toBeGreaterThan(values.length); // some unequal objects match
  });
});
