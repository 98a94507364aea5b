import pino from 'pino';
import { testDialects } from './support/databases';
import { createRoute, inSnapshot, uniqueId } from './support/fixtures';
import { type TestGateway, startProxyBed, stopProxyBed, type TestDataPlane } from './support/gateway';
import type { MockHttp } from './support/mock-http';

const bulk = (tenantId: string) => `/v1/admin/tenants/${tenantId}/keys/bulk`;

describe.each(testDialects())('bulk API keys (%s)', (dialect) => {
  let t: TestGateway;
  let data: TestDataPlane;
  let backend: MockHttp;
  let backendUrl: string;
  const logText: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logText.push(line) });
  /** A tenant-admin token of `tenantId`. */
  const tenantAdmin = async (tenantId: string): Promise<string> =>
    (await t.api('POST', '/v1/admin/tokens', { name: 'tenant admin', role: 'admin', tenant_id: tenantId })).body.token;
  const newTenant = async () => {
    const id = uniqueId('bulk');
    expect((await t.api('POST', '/v1/admin/tenants', { id, name: id })).status).toBe(201);
    return id;
  };
  const keyCount = async (tenantId: string) =>
    (await t.api('GET', `/v1/admin/tenants/${tenantId}/keys?limit=500`)).body.data.length;

  beforeAll(
    async () => ({ t, backend, backendUrl, data } = await startProxyBed(dialect, {}, { webhooks: false, log })),
  );
  afterAll(() => stopProxyBed({ t, backend, data }));

  test('N keys in one call, each plaintext shown once and accepted by the data plane, never logged', async () => {
    const tenantId = await newTenant();
    const prefix = `/${uniqueId('bulk-api')}`;
    await createRoute(t, tenantId, { path_prefix: prefix, backend_url: backendUrl, strip_prefix: true });
    const res = await t.api('POST', bulk(tenantId), { count: 40, name: 'onboarding', metadata: { batch: '1' } });
    expect(res.status).toBe(201);
    const keys = res.body.data as any[];
    expect(keys).toHaveLength(40);
    expect(new Set(keys.map((k) => k.id)).size).toBe(40);
    expect(new Set(keys.map((k) => k.key)).size).toBe(40);
    for (const k of keys) {
      expect(k).toMatchObject({ tenant_id: tenantId, name: 'onboarding', status: 'ACTIVE', metadata: { batch: '1' } });
      expect(k.key).toMatch(/^ptc_key_/);
      expect(k.key.startsWith(k.prefix)).toBe(true);
    }
    // shown once: a read gives no plaintext
    const read = await t.api('GET', `/v1/admin/tenants/${tenantId}/keys/${keys[0].id}`);
    expect(read.body.key).toBeUndefined();
    expect(await keyCount(tenantId)).toBe(40);

    for (const k of [keys[0], keys[17], keys[39]]) {
      await inSnapshot(t, 'api_key', k.id);
      const answer = await fetch(`${data.url}${prefix}/hello`, { headers: { authorization: `Bearer ${k.key}` } });
      expect(answer.status).toBe(200);
    }
    const everything = logText.join('\n');
    for (const k of keys) expect(everything).not.toContain(k.key);
  });

  test('every key has its API_KEY_CREATED event, without the plaintext, and the chain verifies', async () => {
    const tenantId = await newTenant();
    const keys = (await t.api('POST', bulk(tenantId), { count: 25, name: 'audited' })).body.data as any[];
    const events = (await t.api('GET', `/v1/admin/audit/events?tenant_id=${tenantId}&type=API_KEY_CREATED&limit=100`))
      .body.data as any[];
    expect(events.map((e) => e.resource.id).sort()).toEqual(keys.map((k) => k.id).sort());
    const exported = JSON.stringify(events);
    for (const k of keys) expect(exported).not.toContain(k.key);
    const verified = (await t.api('GET', '/v1/admin/audit/verify')).body;
    expect(verified).toMatchObject({ valid: true, first_invalid_seq: null });
  });

  test('a tenant caller bulk-creates in its own tenant only, refused elsewhere as a single create is', async () => {
    const own = await newTenant();
    const other = await newTenant();
    const token = await tenantAdmin(own);
    const mine = await t.api('POST', bulk(own), { count: 3, name: 'mine' }, token);
    expect(mine.status).toBe(201);
    expect(mine.body.data).toHaveLength(3);

    const single = await t.api('POST', `/v1/admin/tenants/${other}/keys`, { name: 'theirs' }, token);
    const many = await t.api('POST', bulk(other), { count: 3, name: 'theirs' }, token);
    expect([403, 404]).toContain(many.status);
    expect(many.status).toBe(single.status);
    expect(many.body.error.code).toBe(single.body.error.code);
    expect(await keyCount(other)).toBe(0);

    // a read-only tenant role may not create keys, one or many
    const viewer = (await t.api('POST', '/v1/admin/tokens', { name: 'v', role: 'viewer', tenant_id: own })).body.token;
    const refused = await t.api('POST', bulk(own), { count: 2, name: 'no' }, viewer);
    expect(refused.status).toBe(403);
    expect(await keyCount(own)).toBe(3);
  });

  test('count out of bounds or missing, bad fields, or a missing tenant: 4xx with the field, nothing written', async () => {
    const tenantId = await newTenant();
    const cases: [object, number, string][] = [
      [{ count: 1001, name: 'x' }, 400, 'count'],
      [{ count: 0, name: 'x' }, 400, 'count'],
      [{ count: 2.5, name: 'x' }, 400, 'count'],
      [{ name: 'x' }, 400, 'count'],
      [{ count: 2 }, 400, 'name'],
      [{ count: 2, name: 'x', rate_limit_tier: 'no-such-tier' }, 400, 'rate_limit_tier'],
      [{ count: 2, name: 'x', expires_at: '2001-01-01T00:00:00Z' }, 400, 'expires_at'],
      [{ count: 2, name: 'x', surprise: true }, 400, 'surprise'],
    ];
    for (const [body, status, field] of cases) {
      const res = await t.api('POST', bulk(tenantId), body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(res.body.error.details.map((d: any) => d.path)).toContain(field);
    }
    expect(await keyCount(tenantId)).toBe(0);
    const nowhere = await t.api('POST', bulk('no-such-tenant'), { count: 2, name: 'x' });
    expect(nowhere.status).toBe(404);
  });

  test('the OpenAPI document lists the bulk route', async () => {
    const doc = (await t.api('GET', '/v1/admin/openapi.json')).body;
    const op = doc.paths['/v1/admin/tenants/{tenant_id}/keys/bulk']?.post;
    expect(op).toBeDefined();
    expect(op.summary).toMatch(/1000/);
  });
});
