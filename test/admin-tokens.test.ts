import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

const run = promisify(execFile);

describe.each(testDialects())('personal access tokens (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    await t.api('POST', '/v1/admin/tenants', { id: 'beta', name: 'Beta' });
  });
  afterAll(() => t?.close());

  test('the plaintext is shown once and stored only as a hash', async () => {
    const res = await t.api('POST', '/v1/admin/tokens', { name: 'ci', role: 'owner' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^pat_/),
      name: 'ci',
      role: 'owner',
      tenant_id: null,
      expires_at: null,
      prefix: expect.any(String),
      status: 'ACTIVE',
      revoked_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      token: expect.stringMatching(/^ptc_pat_/),
    });
    const listed = (await t.api('GET', '/v1/admin/tokens')).body.data;
    expect(JSON.stringify(listed)).not.toContain(res.body.token);
    expect((await t.api('GET', `/v1/admin/tokens/${res.body.id}`)).body.token).toBeUndefined();
    const row = await t.gateway.db
      .selectFrom('resources')
      .selectAll()
      .where('id', '=', res.body.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(res.body.token);
    expect((await t.api('GET', '/v1/admin/tenants', undefined, res.body.token)).status).toBe(200);
    const event = (await t.api('GET', '/v1/admin/audit/events?type=TOKEN_CREATED&limit=1')).body.data[0];
    expect(event).toMatchObject({
      actor: { type: 'token', id: 'bootstrap' },
      resource: { kind: 'token', id: res.body.id },
    });
    expect(JSON.stringify(event)).not.toContain(res.body.token);
    expect((await t.api('PUT', `/v1/admin/tokens/${res.body.id}`, { name: 'x', role: 'owner' })).status).toBe(404);
  });

  test('roles and tenants must fit together', async () => {
    expect((await t.api('POST', '/v1/admin/tokens', { name: 'x', role: 'viewer' })).body.error.details).toEqual([
      { path: 'tenant_id', message: 'is required for the tenant role "viewer"' },
    ]);
    expect(
      (await t.api('POST', '/v1/admin/tokens', { name: 'x', role: 'owner', tenant_id: 'acme' })).body.error.details[0]
        .path,
    ).toBe('tenant_id');
    expect((await t.api('POST', '/v1/admin/tokens', { name: 'x', role: 'root' })).body.error.details[0].path).toBe(
      'role',
    );
    expect(
      (await t.api('POST', '/v1/admin/tokens', { name: 'x', role: 'viewer', tenant_id: 'ghost' })).body.error.details[0]
        .path,
    ).toBe('tenant_id');
  });

  test('a tenant admin grants only tenant roles, only in its tenant, and sees no platform tokens', async () => {
    const admin = (await t.api('POST', '/v1/admin/tokens', { name: 'acme-admin', role: 'admin', tenant_id: 'acme' }))
      .body.token;
    const dev = await t.api('POST', '/v1/admin/tokens', { name: 'dev', role: 'developer' }, admin);
    expect(dev.status).toBe(201);
    expect(dev.body.tenant_id).toBe('acme');
    const owner = await t.api('POST', '/v1/admin/tokens', { name: 'up', role: 'owner', tenant_id: null }, admin);
    expect([owner.status, owner.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const foreign = await t.api('POST', '/v1/admin/tokens', { name: 'f', role: 'viewer', tenant_id: 'beta' }, admin);
    expect([foreign.status, foreign.body.error.code]).toEqual([403, 'TENANT_SCOPE_VIOLATION']);
    const seen = (await t.api('GET', '/v1/admin/tokens', undefined, admin)).body.data;
    expect(seen.every((x: any) => x.tenant_id === 'acme')).toBe(true);
    expect(seen.map((x: any) => x.name).sort()).toEqual(['acme-admin', 'dev']);
    const developer = dev.body.token;
    expect((await t.api('POST', '/v1/admin/tokens', { name: 'v', role: 'viewer' }, developer)).body.error.code).toBe(
      'FORBIDDEN',
    );
  });

  test('a revoked token is refused at once; revoking again is a conflict', async () => {
    const made = (await t.api('POST', '/v1/admin/tokens', { name: 'short-lived', role: 'viewer', tenant_id: 'acme' }))
      .body;
    expect((await t.api('GET', '/v1/admin/tenants', undefined, made.token)).status).toBe(200);
    const revoked = await t.api('POST', `/v1/admin/tokens/${made.id}/revoke`);
    expect(revoked.body).toMatchObject({ status: 'REVOKED', revoked_at: expect.any(String) });
    const refused = await t.api('GET', '/v1/admin/tenants', undefined, made.token);
    expect([refused.status, refused.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    expect((await t.api('POST', `/v1/admin/tokens/${made.id}/revoke`)).status).toBe(409);
    expect((await t.api('GET', '/v1/admin/audit/events?type=TOKEN_REVOKED&limit=1')).body.data[0].resource.id).toBe(
      made.id,
    );
  });

  test('a token cannot be created already expired; one that expires is refused from then on', async () => {
    const before = await t.gateway.db.selectFrom('resources').select('id').where('kind', '=', 'token').execute();
    const past = await t.api('POST', '/v1/admin/tokens', {
      name: 'old',
      role: 'owner',
      expires_at: '2020-01-01T00:00:00Z',
    });
    expect([past.status, past.body.error.code, past.body.error.details]).toEqual([
      400,
      'VALIDATION_FAILED',
      [{ path: 'expires_at', message: 'must be in the future' }],
    ]);
    expect(await t.gateway.db.selectFrom('resources').select('id').where('kind', '=', 'token').execute()).toEqual(
      before,
    );
    const soon = (
      await t.api('POST', '/v1/admin/tokens', {
        name: 'soon',
        role: 'owner',
        expires_at: new Date(Date.now() + 1500).toISOString(),
      })
    ).body;
    expect((await t.api('GET', '/v1/admin/tenants', undefined, soon.token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await t.api('GET', '/v1/admin/tenants', undefined, soon.token)).status).toBe(401);
  });

  test('missing, malformed and unknown credentials get 401 in the error shape', async () => {
    for (const header of [
      undefined,
      'Basic abc',
      'Bearer',
      `Bearer ptc_pat_${randomBytes(32).toString('base64url')}`,
      'Bearer test-owner-token-012345678',
    ]) {
      const res = await t.admin.inject({
        method: 'GET',
        url: '/v1/admin/tenants',
        headers: header ? { authorization: header } : {},
      });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String), details: [] } });
    }
  });
});

describe('portico token create', () => {
  test('writes a working token into the configured database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-cli-'));
    const env = { PORTICO_DATA_DIR: dir, PORTICO_MASTER_KEY: randomBytes(32).toString('base64') };
    const { stdout } = await run(
      'node',
      [join(__dirname, '..', 'cli', 'portico.js'), 'token', 'create', '--name', 'automation', '--role', 'owner'],
      { env: { ...process.env, ...env } },
    );
    const created = JSON.parse(stdout);
    expect(created).toMatchObject({ name: 'automation', role: 'owner', token: expect.stringMatching(/^ptc_pat_/) });
    const t = await startTestGateway('pglite', env);
    try {
      expect(
        (await t.api('GET', '/v1/admin/tokens', undefined, created.token)).body.data.map((x: any) => x.name),
      ).toEqual(['automation']);
      const event = (await t.api('GET', '/v1/admin/audit/events?type=TOKEN_CREATED')).body.data[0];
      expect(event.actor).toEqual({ type: 'cli', id: 'portico-cli', name: 'portico token create' });
    } finally {
      await t.close();
    }
    const bad = await run(
      'node',
      [join(__dirname, '..', 'cli', 'portico.js'), 'token', 'create', '--name', 'x', '--role', 'god'],
      { env: { ...process.env, ...env } },
    ).catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('role:');
  }, 120_000); // two CLI processes, each opening a PGlite data directory on disk (the first runs initdb there)
});
