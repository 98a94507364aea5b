import { decryptSecret } from '../server/lib/secrets';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

describe.each(testDialects())('credentials and pricing (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
  });
  afterAll(() => t?.close());
  const sealed = async (id: string) =>
    (await t.gateway.db.selectFrom('resources').select('secret').where('id', '=', id).executeTakeFirstOrThrow())
      .secret!;

  test('a credential is stored encrypted and never shown; only its last 4 characters are', async () => {
    const res = await t.api('POST', '/v1/admin/credentials', {
      id: 'acme-openai',
      tenant_id: 'acme',
      provider: 'openai',
      api_key: 'sk-live-abcdef123456',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: 'acme-openai',
      tenant_id: 'acme',
      name: '',
      provider: 'openai',
      key_version: null,
      key_last4: '3456',
      status: 'ACTIVE',
      revoked_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(JSON.stringify((await t.api('GET', '/v1/admin/credentials')).body)).not.toContain('sk-live');
    const stored = await sealed('acme-openai');
    expect(stored).not.toContain('sk-live');
    expect(decryptSecret(t.gateway.keys.masterKey, stored)).toBe('sk-live-abcdef123456');
    const audit = (await t.api('GET', '/v1/admin/audit/events?type=CREDENTIAL_CREATED')).body.data[0];
    expect(JSON.stringify(audit)).not.toContain('sk-live');
    expect((await t.api('POST', '/v1/admin/credentials', { provider: 'openai' })).body.error.details[0]).toEqual({
      path: 'api_key',
      message: 'is required',
    });
  });

  test('rotate replaces the key; revoke marks it; both audited without the secret', async () => {
    const rotated = await t.api('POST', '/v1/admin/credentials/acme-openai/rotate', {
      api_key: 'sk-live-rotated-9999',
    });
    expect(rotated.body).toMatchObject({ key_last4: '9999', status: 'ACTIVE' });
    expect(decryptSecret(t.gateway.keys.masterKey, await sealed('acme-openai'))).toBe('sk-live-rotated-9999');
    expect((await t.api('POST', '/v1/admin/credentials/acme-openai/rotate', {})).body.error.details[0].path).toBe(
      'api_key',
    );
    const revoked = await t.api('POST', '/v1/admin/credentials/acme-openai/revoke');
    expect(revoked.body).toMatchObject({ status: 'REVOKED', revoked_at: expect.any(String) });
    const events = (await t.api('GET', '/v1/admin/audit/events?limit=2')).body.data;
    expect(events.map((e: any) => e.type)).toEqual(['CREDENTIAL_REVOKED', 'CREDENTIAL_ROTATED']);
    expect(JSON.stringify(events)).not.toContain('sk-live');
    expect(
      (await t.api('PUT', '/v1/admin/credentials/acme-openai', { provider: 'anthropic' })).body.error.details[0].path,
    ).toBe('provider');
  });

  test('one pricing entry per provider and model', async () => {
    const body = { provider: 'openai', model: 'gpt-4o', input_per_million_usd: 2.5, output_per_million_usd: 10 };
    expect((await t.api('POST', '/v1/admin/pricing', { id: 'gpt-4o', ...body })).status).toBe(201);
    const dup = await t.api('POST', '/v1/admin/pricing', { id: 'gpt-4o-again', ...body });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'ALREADY_EXISTS']);
    await t.api('POST', '/v1/admin/pricing', { id: 'mini', ...body, model: 'gpt-4o-mini' });
    expect((await t.api('PUT', '/v1/admin/pricing/mini', { ...body })).status).toBe(409);
    expect(
      (await t.api('PUT', '/v1/admin/pricing/gpt-4o', { ...body, output_per_million_usd: 12 })).body
        .output_per_million_usd,
    ).toBe(12);
    expect(
      (
        await t.api('POST', '/v1/admin/pricing', {
          provider: 'x',
          model: 'y',
          input_per_million_usd: -1,
          output_per_million_usd: 1,
        })
      ).body.error.details[0].path,
    ).toBe('input_per_million_usd');
  });
});
