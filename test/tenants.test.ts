import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

describe.each(testDialects())('tenants and API keys (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect);
  });
  afterAll(() => t?.close());

  const count = async (kind: string) =>
    Number(
      (
        await t.gateway.db
          .selectFrom('resources')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('kind', '=', kind)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const auditCount = async () =>
    Number(
      (
        await t.gateway.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  test('quick start: create a tenant, issue a key once, list, and see the audit events with the caller as actor', async () => {
    const created = await t.api('POST', '/v1/admin/tenants', { id: 'acme-corp', name: 'Acme Corp', status: 'ACTIVE' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: 'acme-corp',
      name: 'Acme Corp',
      status: 'ACTIVE',
      region: null,
      metadata: {},
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });

    const key = await t.api('POST', '/v1/admin/tenants/acme-corp/keys', { name: 'production-key' });
    expect(key.status).toBe(201);
    expect(key.body.key).toMatch(/^ptc_key_[A-Za-z0-9_-]{43}$/);
    expect(key.body).toMatchObject({
      tenant_id: 'acme-corp',
      name: 'production-key',
      status: 'ACTIVE',
      rate_limit_tier: null,
      expires_at: null,
      metadata: {},
      last_used_at: null,
      revoked_at: null,
    });
    expect(key.body.key.startsWith(key.body.prefix)).toBe(true);

    const read = await t.api('GET', `/v1/admin/tenants/acme-corp/keys/${key.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.key).toBeUndefined();
    expect(JSON.stringify(read.body)).not.toContain(key.body.key);
    const { key: _shown, ...withoutKey } = key.body;
    expect(read.body).toEqual(withoutKey);
    const stored = await t.gateway.db
      .selectFrom('resources')
      .selectAll()
      .where('id', '=', key.body.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(key.body.key);

    const list = await t.api('GET', '/v1/admin/tenants');
    expect(list.body).toEqual({ object: 'list', data: [created.body], next_cursor: null });

    const events = await t.api('GET', '/v1/admin/audit/events');
    const types = events.body.data.map((e: any) => e.type);
    expect(types).toEqual(['API_KEY_CREATED', 'TENANT_CREATED']);
    for (const e of events.body.data)
      expect(e.actor).toEqual({ type: 'token', id: 'bootstrap', name: 'bootstrap owner token' });
    expect(events.body.data[0].resource).toEqual({ kind: 'api_key', id: key.body.id });
    expect(JSON.stringify(events.body)).not.toContain(key.body.key);
  });

  test('GET returns what PUT accepted, defaults filled in; PUT replaces and emits TENANT_METADATA_UPDATED when metadata changes', async () => {
    const put = await t.api('PUT', '/v1/admin/tenants/acme-corp', {
      name: 'Acme',
      status: 'SUSPENDED',
      region: 'eu-west-1',
      metadata: { team: 'ml' },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      id: 'acme-corp',
      name: 'Acme',
      status: 'SUSPENDED',
      region: 'eu-west-1',
      metadata: { team: 'ml' },
    });
    expect((await t.api('GET', '/v1/admin/tenants/acme-corp')).body).toEqual(put.body);
    const events = (await t.api('GET', '/v1/admin/audit/events?limit=2')).body.data;
    expect(events.map((e: any) => e.type).sort()).toEqual(['TENANT_METADATA_UPDATED', 'TENANT_UPDATED']);
    expect(events.find((e: any) => e.type === 'TENANT_METADATA_UPDATED').changes).toEqual({
      metadata: { from: {}, to: { team: 'ml' } },
    });

    const before = await auditCount();
    const same = await t.api('PUT', '/v1/admin/tenants/acme-corp', {
      name: 'Acme',
      status: 'SUSPENDED',
      region: 'eu-west-1',
      metadata: { team: 'ml' },
    });
    expect(same.body.updated_at).toBe(put.body.updated_at);
    expect(await auditCount()).toBe(before);

    const reset = await t.api('PUT', '/v1/admin/tenants/acme-corp', { name: 'Acme Corp' });
    expect(reset.body).toMatchObject({ status: 'ACTIVE', region: null, metadata: {} });
  });

  test('invalid bodies get 400 with field paths and write nothing', async () => {
    const tenants = await count('tenant');
    const events = await auditCount();
    const cases: [unknown, string[]][] = [
      [{ id: 'x1', name: 42 }, ['name']],
      [{ id: 'x1' }, ['name']],
      [{ name: 'no id' }, ['id']],
      [{ id: 'x1', name: 'a', colour: 'red' }, ['colour']],
      [{ id: 'x1', name: 'a'.repeat(201) }, ['name']],
      [{ id: 'x1', name: 'a', status: 'PAUSED' }, ['status']],
      [{ id: 'x1', name: 'a', metadata: { team: 1 } }, ['metadata.team']],
      [{ id: 'x1', name: 'a', metadata: { k: 'v'.repeat(1025) } }, ['metadata.k']],
      [{ id: '-bad', name: 'a' }, ['id']],
      [{ id: 'x'.repeat(64), name: 'a' }, ['id']],
      [{ id: 'x1', name: 'a', created_at: '2020-01-01T00:00:00Z' }, ['created_at']],
      [[1, 2], ['']],
    ];
    for (const [body, paths] of cases) {
      const res = await t.api('POST', '/v1/admin/tenants', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.map((d: any) => d.path)).toEqual(paths);
      expect(res.body.error.details.every((d: any) => typeof d.message === 'string' && d.message.length > 0)).toBe(
        true,
      );
    }
    const key = await t.api('POST', '/v1/admin/tenants/acme-corp/keys', {
      name: 'k',
      expires_at: 'tomorrow',
      rate_limit_tier: 7,
    });
    expect(key.status).toBe(400);
    expect(key.body.error.details.map((d: any) => d.path).sort()).toEqual(['expires_at', 'rate_limit_tier']);
    const expired = await t.api('POST', '/v1/admin/tenants/acme-corp/keys', {
      name: 'k',
      expires_at: '2020-01-01T00:00:00Z',
    });
    expect(expired.status).toBe(400);
    expect(expired.body.error.details).toEqual([{ path: 'expires_at', message: expect.stringContaining('future') }]);
    const put = await t.api('PUT', '/v1/admin/tenants/acme-corp', { name: '' });
    expect(put.body.error.details[0].path).toBe('name');
    const rename = await t.api('PUT', '/v1/admin/tenants/acme-corp', { id: 'other', name: 'x' });
    expect(rename.body.error.details[0]).toEqual({ path: 'id', message: expect.stringContaining('cannot change') });
    expect(await count('tenant')).toBe(tenants);
    expect(await auditCount()).toBe(events);
    expect((await t.api('GET', '/v1/admin/tenants/acme-corp')).body.name).toBe('Acme Corp');
  });

  test('malformed JSON, wrong content type, oversized body and unknown routes get the error shape', async () => {
    const bad = await t.api('POST', '/v1/admin/tenants', '{"id": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_JSON');
    const text = await t.admin.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { authorization: 'Bearer test-owner-token-0123456789', 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const big = await t.api('POST', '/v1/admin/tenants', { id: 'big', name: 'x'.repeat(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const unknown = await t.api('GET', '/v1/admin/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('ROUTE_NOT_FOUND');
    const missing = await t.api('GET', '/v1/admin/tenants/nobody');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: 'Tenant "nobody" not found', details: [] });
    const badLimit = await t.api('GET', '/v1/admin/tenants?limit=501');
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.details[0].path).toBe('limit');
  });

  test('duplicate ids are 409, and the first tenant is unchanged', async () => {
    const dup = await t.api('POST', '/v1/admin/tenants', { id: 'acme-corp', name: 'Impostor' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('ALREADY_EXISTS');
    expect((await t.api('GET', '/v1/admin/tenants/acme-corp')).body.name).toBe('Acme Corp');
  });

  test('list pagination walks every tenant once with limit and cursor', async () => {
    for (let i = 0; i < 7; i++)
      expect((await t.api('POST', '/v1/admin/tenants', { id: `page-${i}`, name: `Page ${i}` })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await t.api('GET', `/v1/admin/tenants?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.data.map((d: any) => d.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['acme-corp', ...Array.from({ length: 7 }, (_, i) => `page-${i}`)]);
  });

  test('keys: update, revoke (once), delete, and their audit events', async () => {
    const key = (await t.api('POST', '/v1/admin/tenants/acme-corp/keys', { name: 'ci' })).body;
    await t.api('POST', '/v1/admin/rate-limit-tiers', { id: 'gold', limit: 1000, window_secs: 60 });
    const put = await t.api('PUT', `/v1/admin/tenants/acme-corp/keys/${key.id}`, {
      name: 'ci-2',
      rate_limit_tier: 'gold',
      expires_at: '2030-01-01T00:00:00Z',
      metadata: { a: 'b' },
    });
    expect(put.body).toMatchObject({
      name: 'ci-2',
      rate_limit_tier: 'gold',
      expires_at: '2030-01-01T00:00:00Z',
      metadata: { a: 'b' },
      prefix: key.prefix,
      status: 'ACTIVE',
    });
    const readOnly = await t.api('PUT', `/v1/admin/tenants/acme-corp/keys/${key.id}`, { name: 'x', status: 'REVOKED' });
    expect(readOnly.body.error.details).toEqual([{ path: 'status', message: 'is read-only' }]);
    const revoked = await t.api('POST', `/v1/admin/tenants/acme-corp/keys/${key.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('REVOKED');
    expect(Date.parse(revoked.body.revoked_at)).toBeGreaterThan(Date.now() - 60_000);
    expect((await t.api('POST', `/v1/admin/tenants/acme-corp/keys/${key.id}/revoke`)).status).toBe(409);
    expect((await t.api('GET', `/v1/admin/tenants/other/keys/${key.id}`)).status).toBe(404);
    expect((await t.api('DELETE', `/v1/admin/tenants/acme-corp/keys/${key.id}`)).status).toBe(204);
    expect((await t.api('DELETE', `/v1/admin/tenants/acme-corp/keys/${key.id}`)).status).toBe(404);
    const types = (await t.api('GET', '/v1/admin/audit/events?limit=3')).body.data.map((e: any) => e.type);
    expect(types).toEqual(['API_KEY_DELETED', 'API_KEY_REVOKED', 'API_KEY_UPDATED']);
    expect((await t.api('POST', '/v1/admin/tenants/nobody/keys', { name: 'k' })).status).toBe(404);
  });

  test('a tenant that owns resources is deleted only with cascade', async () => {
    await t.api('POST', '/v1/admin/tenants', { id: 'doomed', name: 'Doomed' });
    await t.api('POST', '/v1/admin/tenants/doomed/keys', { name: 'k1' });
    const refused = await t.api('DELETE', '/v1/admin/tenants/doomed');
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('TENANT_HAS_RESOURCES');
    expect((await t.api('DELETE', '/v1/admin/tenants/doomed?cascade=true')).status).toBe(204);
    expect((await t.api('GET', '/v1/admin/tenants/doomed')).status).toBe(404);
    expect(
      (await t.api('GET', '/v1/admin/audit/events?tenant_id=doomed&limit=2')).body.data.map((e: any) => e.type),
    ).toEqual(['TENANT_DELETED', 'API_KEY_DELETED']);
    expect((await t.api('DELETE', '/v1/admin/tenants/doomed')).status).toBe(404);
  });
});
