import { verifyUser } from '../server/users/verify';
import { testDialects } from './support/databases';
import { created, uniqueId } from './support/fixtures';
import { startTestGateway, type TestGateway } from './support/gateway';

/**
 * Users: people who sign in to the console and the tenant portal. The password goes in and never comes out (a
 * salted scrypt hash is kept); emails are unique ignoring case; tenant admins manage their own tenant's users only.
 */
describe.each(testDialects())('users (%s)', (dialect) => {
  let t: TestGateway;
  const token: Record<string, string> = {};
  const url = '/v1/admin/users';
  const email = () => `${uniqueId('user')}@example.com`;
  const storedSecret = async (id: string) =>
    (
      await t.gateway.db
        .selectFrom('resources')
        .select('secret')
        .where('kind', '=', 'user')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).secret;

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    for (const tenant of ['acme', 'beta']) {
      await created(t, '/v1/admin/tenants', { id: tenant, name: tenant });
      for (const role of ['admin', 'developer'])
        token[`${tenant}-${role}`] = (
          await created(t, '/v1/admin/tokens', { name: role, role, tenant_id: tenant })
        ).token;
    }
    token.policy = (await created(t, '/v1/admin/tokens', { name: 'p', role: 'policy-admin' })).token;
  });
  afterAll(() => t?.close());

  test('the password goes in and never comes out: not in responses, audit, export or the stored column', async () => {
    const password = 'correct horse battery staple';
    const user = await created(t, url, { email: email(), name: 'Ada', role: 'owner', password });
    expect(user).toMatchObject({ tenant_id: null, role: 'owner', enabled: true, password_set: true });
    expect(user.password).toBeUndefined();
    const hash = (await storedSecret(user.id))!;
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);

    const rotated = await t.api('PUT', `${url}/${user.id}`, {
      email: user.email,
      name: 'Ada',
      role: 'owner',
      password: 'a brand new passphrase',
    });
    expect(rotated.status).toBe(200);
    const newHash = (await storedSecret(user.id))!;
    expect(newHash).not.toBe(hash);

    const seen = JSON.stringify([
      (await t.api('GET', `${url}/${user.id}`)).body,
      (await t.api('GET', `${url}?limit=500`)).body,
      (await t.api('GET', '/v1/admin/audit/events?limit=50')).body,
      (await t.api('GET', '/v1/admin/config/export')).body,
      rotated.body,
    ]);
    for (const secret of [password, 'a brand new passphrase', hash, newHash, 'scrypt$'])
      expect(seen).not.toContain(secret);
    const event = (await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0];
    expect(event).toMatchObject({ type: 'USER_UPDATED', changes: { password: { from: '***', to: '***' } } });
    const exported = (await t.api('GET', '/v1/admin/config/export')).body.users.find((u: any) => u.id === user.id);
    expect(exported).toEqual({
      id: user.id,
      tenant_id: null,
      email: user.email,
      name: 'Ada',
      role: 'owner',
      enabled: true,
      password_version: null,
    });
  });

  test('verifyUser: email (any case) and password sign in; a wrong one, a disabled user or no password do not', async () => {
    const address = email();
    const user = await created(t, url, {
      email: address,
      name: 'Bo',
      role: 'viewer',
      tenant_id: 'acme',
      password: 'pass-word-1',
    });
    expect(await verifyUser(t.gateway.db, address.toUpperCase(), 'pass-word-1')).toMatchObject({
      id: user.id,
      tenant_id: 'acme',
      role: 'viewer',
    });
    expect(await verifyUser(t.gateway.db, address, 'pass-word-2')).toBeUndefined();
    expect(await verifyUser(t.gateway.db, 'nobody@example.com', 'pass-word-1')).toBeUndefined();
    const signedIn = await verifyUser(t.gateway.db, address, 'pass-word-1');
    expect(JSON.stringify(signedIn)).not.toContain('scrypt');

    const put = { email: address, name: 'Bo', role: 'viewer', enabled: false };
    expect((await t.api('PUT', `${url}/${user.id}`, put)).status).toBe(200);
    expect(await verifyUser(t.gateway.db, address, 'pass-word-1')).toBeUndefined();

    const nopass = await created(t, url, { email: email(), name: 'Cy', role: 'owner' });
    expect(nopass.password_set).toBe(false);
    expect(await verifyUser(t.gateway.db, nopass.email, '')).toBeUndefined();
  });

  test('an email is unique across the gateway, ignoring case', async () => {
    const address = email();
    await created(t, url, { email: address, name: 'A', role: 'viewer', tenant_id: 'acme' });
    const clash = await t.api('POST', url, {
      email: address.toUpperCase(),
      name: 'B',
      role: 'viewer',
      tenant_id: 'beta',
    });
    expect([clash.status, clash.body.error.code]).toEqual([409, 'ALREADY_EXISTS']);
    const other = await created(t, url, { email: email(), name: 'C', role: 'viewer', tenant_id: 'beta' });
    const moved = await t.api('PUT', `${url}/${other.id}`, { email: address, name: 'C', role: 'viewer' });
    expect(moved.status).toBe(409);
  });

  test("a tenant admin manages its own tenant's users only, and never grants a platform role", async () => {
    const admin = token['acme-admin'];
    const own = await t.api('POST', url, { email: email(), name: 'Own', role: 'developer' }, admin);
    expect([own.status, own.body.tenant_id]).toEqual([201, 'acme']);
    const refused: [Record<string, unknown>, number][] = [
      [{ email: email(), name: 'X', role: 'owner' }, 403],
      [{ email: email(), name: 'X', role: 'owner', tenant_id: null }, 403],
      [{ email: email(), name: 'X', role: 'billing-admin', tenant_id: 'acme' }, 403],
      [{ email: email(), name: 'X', role: 'viewer', tenant_id: 'beta' }, 403],
    ];
    for (const [body, status] of refused)
      expect([body, (await t.api('POST', url, body, admin)).status]).toEqual([body, status]);
    // nor by changing an existing user's role
    const promote = await t.api(
      'PUT',
      `${url}/${own.body.id}`,
      { email: own.body.email, name: 'Own', role: 'owner' },
      admin,
    );
    expect([promote.status, promote.body.error.details[0].path]).toEqual([400, 'tenant_id']);

    const betaUser = await created(t, url, { email: email(), name: 'B', role: 'viewer', tenant_id: 'beta' });
    const platformUser = await created(t, url, { email: email(), name: 'P', role: 'owner' });
    for (const id of [betaUser.id, platformUser.id]) {
      expect((await t.api('GET', `${url}/${id}`, undefined, admin)).status).toBe(404);
      const put = { email: email(), name: 'Taken', role: 'admin' };
      expect((await t.api('PUT', `${url}/${id}`, put, admin)).status).toBe(404);
      expect((await t.api('DELETE', `${url}/${id}`, undefined, admin)).status).toBe(404);
    }
    const listed = (await t.api('GET', `${url}?limit=500`, undefined, admin)).body.data;
    expect(new Set(listed.map((u: { tenant_id: string }) => u.tenant_id))).toEqual(new Set(['acme']));

    // roles without the token area manage no users at all
    for (const who of ['acme-developer', 'policy'])
      expect([who, (await t.api('GET', url, undefined, token[who])).status]).toEqual([who, 403]);
    expect((await t.api('POST', url, { email: email(), name: 'P', role: 'owner' }, token.policy)).status).toBe(403);
    expect((await t.api('DELETE', `${url}/${own.body.id}`, undefined, admin)).status).toBe(204);
  });

  test('the OpenAPI document takes `password` on create and PUT and never answers with it', async () => {
    const doc = (await t.api('GET', '/v1/admin/openapi.json', undefined, null)).body;
    const json = (op: any) => op.content['application/json'].schema;
    expect(json(doc.paths[url].post.requestBody).properties.password).toMatchObject({ type: 'string', minLength: 8 });
    expect(json(doc.paths[`${url}/{id}`].put.requestBody).properties.password).toBeDefined();
    const answers = [doc.paths[url].post.responses['201'], doc.paths[`${url}/{id}`].get.responses['200']];
    for (const answer of answers) {
      const props = json(answer).properties;
      expect(props.password_set).toEqual({ type: 'boolean' });
      expect(Object.keys(props)).not.toContain('password');
    }
  });

  test('bad input is a 400 naming the field', async () => {
    const base = { email: email(), name: 'N', role: 'viewer', tenant_id: 'acme' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, email: 'not-an-email' }, 'email'],
      [{ ...base, email: undefined }, 'email'],
      [{ ...base, role: 'root' }, 'role'],
      [{ ...base, password: 'short' }, 'password'],
      [{ ...base, password: 12345678 }, 'password'],
      [{ ...base, tenant_id: undefined }, 'tenant_id'], // a tenant role needs a tenant
      [{ ...base, role: 'owner' }, 'tenant_id'], // a platform role has none
      [{ ...base, password_hash: 'x' }, 'password_hash'],
      [{ ...base, password_set: true }, 'password_set'],
    ];
    for (const [body, path] of cases) {
      const res = await t.api('POST', url, body);
      expect([path, res.status, res.body.error?.code]).toEqual([path, 400, 'VALIDATION_FAILED']);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  test('export → import into a fresh gateway: users arrive without a password and sign in once one is set', async () => {
    const address = email();
    const user = await created(t, url, {
      email: address,
      name: 'Roundtrip',
      role: 'admin',
      tenant_id: 'acme',
      password: 'original-pass',
    });
    const doc = (await t.api('GET', '/v1/admin/config/export')).body;
    const again = await t.api('POST', '/v1/admin/config/import?mode=replace', doc);
    expect([again.status, again.body.updated, again.body.created]).toEqual([200, [], []]);
    expect(await verifyUser(t.gateway.db, address, 'original-pass')).toBeDefined(); // the stored hash is kept

    const fresh = await startTestGateway(dialect, {}, { webhooks: false });
    try {
      const res = await fresh.api('POST', '/v1/admin/config/import?mode=replace', doc);
      expect(res.status).toBe(200);
      const arrived = (await fresh.api('GET', `${url}/${user.id}?tenant_id=acme`)).body;
      expect(arrived).toMatchObject({ email: address, role: 'admin', tenant_id: 'acme', password_set: false });
      expect(await verifyUser(fresh.gateway.db, address, 'original-pass')).toBeUndefined();
      const set = await fresh.api('PUT', `${url}/${user.id}`, {
        email: address,
        name: 'Roundtrip',
        role: 'admin',
        password: 'new-pass-123',
      });
      expect([set.status, set.body.password_set]).toEqual([200, true]);
      expect(await verifyUser(fresh.gateway.db, address, 'new-pass-123')).toMatchObject({ id: user.id });
      const exported = (await fresh.api('GET', '/v1/admin/config/export')).body;
      expect(exported.users).toEqual(doc.users);
    } finally {
      await fresh.close();
    }
  });
});
