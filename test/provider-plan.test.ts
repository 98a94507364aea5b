import { UNKNOWN } from '../provider/cty-codec';
import { importState, planChange, stateOf, validateConfig } from '../provider/operations';
import { modelByType } from '../provider/schema';

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
    expect(modelByType('portico_token')!.attributes.find((a) => a.name === 'role')).toMatchObject({ required: true, requiresReplace: true });
  });
});

describe('planning', () => {
  const config = { ...nulls(route), id: 'gpt', model_pattern: 'gpt*', providers: [{ provider: 'openai', model: null, base_url: null, credential_id: null, weight: null, timeout_ms: null }] };

  test('create: defaults are known at plan time (nested too); server-set values are unknown', () => {
    const { planned } = planChange(route, null, config);
    expect(planned).toMatchObject({ id: 'gpt', strategy: 'model-prefix', enabled: true, priority: 0, methods: [], timeout_ms: 30000, rate_limit: null });
    expect(planned!.providers).toEqual([{ provider: 'openai', model: null, base_url: null, credential_id: null, weight: 1, timeout_ms: null }]);
    expect([planned!.version, planned!.created_at, planned!.updated_at]).toEqual([UNKNOWN, UNKNOWN, UNKNOWN]);
  });

  test('no change: the prior state exactly (useStateForUnknown for every computed value)', () => {
    const prior = { ...(planChange(route, null, config).planned as object), version: 3, created_at: 'c', updated_at: 'u' } as any;
    expect(planChange(route, prior, config)).toEqual({ planned: prior, requiresReplace: [] });
  });

  test('an update keeps stable computed values and marks what the server changes unknown', () => {
    const prior = { ...(planChange(route, null, config).planned as object), version: 3, created_at: 'c', updated_at: 'u' } as any;
    const { planned, requiresReplace } = planChange(route, prior, { ...config, priority: 5 });
    expect(planned).toMatchObject({ priority: 5, created_at: 'c', version: UNKNOWN, updated_at: UNKNOWN });
    expect(requiresReplace).toEqual([]);
  });

  test('changing an id or a tenant requires replacement', () => {
    const prior = { ...(planChange(route, null, config).planned as object), version: 1, created_at: 'c', updated_at: 'u' } as any;
    expect(planChange(route, prior, { ...config, id: 'other' }).requiresReplace).toEqual(['id']);
    expect(planChange(route, prior, { ...config, tenant_id: 'acme' }).requiresReplace).toEqual(['tenant_id']);
  });

  test('destroy plans null', () => {
    expect(planChange(route, { ...nulls(route), id: 'x' }, null)).toEqual({ planned: null, requiresReplace: [] });
  });

  test('write-only secrets are never planned; the API key plaintext is kept from state', () => {
    const wh = { ...nulls(webhook), url: 'https://x.example', events: ['*'], secret_wo: 's3cret', secret_wo_version: 1 };
    expect(planChange(webhook, null, wh).planned!.secret_wo).toBeNull();
    const state = stateOf(key, { id: 'key_1', tenant_id: 't', name: 'k', prefix: 'ptc_key_ab' }, { ...nulls(key), key: 'ptc_key_abcdef' });
    expect(state.key).toBe('ptc_key_abcdef');
  });
});

describe('validation and import ids', () => {
  test('known values are checked against the resource schema, with attribute paths', () => {
    const bad = validateConfig(route, { ...nulls(route), model_pattern: 'a', path_prefix: '/b', providers: [{ provider: 'x', weight: -1 }] } as never);
    expect(bad.map((p) => p.path)).toEqual(['providers.0.weight']);
    const both = validateConfig(route, { ...nulls(route), model_pattern: 'a', path_prefix: '/b', providers: [{ provider: 'x' }] } as never);
    expect(both.map((p) => p.path)).toEqual(['path_prefix']);
    expect(validateConfig(route, { ...nulls(route), model_pattern: UNKNOWN, providers: [{ provider: 'x' }] } as never)).toEqual([]);
  });

  test('API keys import as <tenant_id>/<key_id>; others by id', () => {
    expect(importState(key, 'acme/key_1')).toMatchObject({ tenant_id: 'acme', id: 'key_1' });
    expect(() => importState(key, 'key_1')).toThrow('"<tenant_id>/<id>"');
    expect(importState(route, 'gpt')).toMatchObject({ id: 'gpt' });
  });
});
