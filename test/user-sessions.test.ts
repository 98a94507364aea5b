import { testDialects } from './support/databases';
import { created, uniqueId } from './support/fixtures';
import { startTestGateway, type TestGateway } from './support/gateway';
import { portal } from './support/portal';

const PASSWORD = 'correct horse battery staple';

/**
 * Email and password sign-in to the admin API (`/v1/auth/sessions`), as the console uses it: an opaque session token
 * accepted on /v1/admin/* like a PAT of the user's role and tenant, ended by sign-out, expiry, a password change or a
 * disabled user, and never accepted by the tenant portal.
 */
describe.each(testDialects())('user sessions on the admin API (%s)', (dialect) => {
  let t: TestGateway;
  const signIn = (email: string, password: string, address?: string) =>
    portal(t, 'POST', '/v1/auth/sessions', { email, password }, undefined, address);
  const newUser = async (body: Record<string, unknown>) => {
    const email = `${uniqueId('user')}@example.com`;
    const user = await created(t, '/v1/admin/users', { name: 'Someone', password: PASSWORD, email, ...body });
    return { ...user, email };
  };
  const sessionOf = async (email: string) => {
    const res = await signIn(email, PASSWORD);
    expect(res.status).toBe(201);
    return res.body.token as string;
  };

  beforeAll(async () => {
    t = await startTestGateway(dialect, {
      PORTICO_PORTAL_LOGIN_LIMIT_EMAIL: '5',
      PORTICO_PORTAL_LOGIN_LIMIT_ADDRESS: '1000',
    });
    for (const id of ['acme', 'beta']) await created(t, '/v1/admin/tenants', { id, name: id });
  });
  afterAll(() => t?.close());

  test('sign in: a session token that acts as the user, with their role; sign-out ends it', async () => {
    const user = await newUser({ role: 'owner' });
    const res = await signIn(user.email.toUpperCase(), PASSWORD); // emails match ignoring case
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^ptc_ses_[A-Za-z0-9_-]{43}$/);
    expect(res.body.user).toEqual({ id: user.id, email: user.email, role: 'owner', tenant_id: null });
    const hours = (Date.parse(res.body.expires_at) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(7.9);
    expect(hours).toBeLessThanOrEqual(8);
    const token = res.body.token;

    const who = await t.api('GET', '/v1/admin/whoami', undefined, token);
    expect(who.body).toMatchObject({ type: 'user', id: user.id, name: user.email, role: 'owner', tenant_id: null });
    // the session writes like the user: the audit event names them
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'by-user', name: 'By user' }, token)).status).toBe(201);
    const [event] = (await t.api('GET', '/v1/admin/audit/events?type=TENANT_CREATED&limit=1')).body.data;
    expect(event.actor).toMatchObject({ type: 'user', id: user.id, name: user.email });

    // only the hash is stored
    const stored = await t.gateway.db.selectFrom('user_sessions').select('token_hash').execute();
    expect(stored.map((r) => r.token_hash)).not.toContain(token);

    expect((await t.api('DELETE', '/v1/auth/sessions/current', undefined, token)).status).toBe(204);
    expect((await t.api('GET', '/v1/admin/whoami', undefined, token)).status).toBe(401);
    expect((await t.api('DELETE', '/v1/auth/sessions/current', undefined, token)).status).toBe(401);
  });

  test('a wrong password, an unknown email and a disabled user get one answer; bad input is a 400 naming the field', async () => {
    const user = await newUser({ role: 'owner' });
    const disabled = await newUser({ role: 'owner', enabled: false });
    const answers = await Promise.all([
      signIn(user.email, 'not the password'),
      signIn('nobody@example.com', PASSWORD),
      signIn(disabled.email, PASSWORD),
    ]);
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(a.body.error).toMatchObject({ code: 'UNAUTHORIZED', message: 'The email or password is wrong' });
    }
    // about the same time: an unknown email costs a password check too (a decoy hash)
    const time = async (email: string) => {
      const start = process.hrtime.bigint();
      await signIn(email, 'not the password');
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const known = Math.min(await time(user.email), await time(user.email));
    const unknown = Math.min(await time('ghost@example.com'), await time('ghost@example.com'));
    expect(unknown).toBeGreaterThan(known / 3);

    const bad = await portal(t, 'POST', '/v1/auth/sessions', { email: 'not-an-email', password: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([expect.objectContaining({ path: 'email' })]);
  });

  test('attempts are limited per email: the sixth within the window is a 429, even with the right password', async () => {
    const user = await newUser({ role: 'viewer', tenant_id: 'acme' });
    for (let i = 0; i < 5; i++) expect((await signIn(user.email, 'wrong')).status).toBe(401);
    const limited = await signIn(user.email, PASSWORD);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  test('a password change, a disabled user and a deleted user end their sessions at once', async () => {
    const user = await newUser({ role: 'admin', tenant_id: 'acme' });
    const path = `/v1/admin/users/${user.id}?tenant_id=acme`;
    const body = { email: user.email, name: 'Someone', role: 'admin', tenant_id: 'acme' };
    const first = await sessionOf(user.email);
    expect((await t.api('PUT', path, { ...body, password: 'a brand new passphrase' })).status).toBe(200);
    expect((await t.api('GET', '/v1/admin/whoami', undefined, first)).status).toBe(401);
    // a change that keeps the password keeps the session
    const second = (await signIn(user.email, 'a brand new passphrase')).body.token;
    expect((await t.api('PUT', path, { ...body, name: 'Renamed' })).status).toBe(200);
    expect((await t.api('GET', '/v1/admin/whoami', undefined, second)).status).toBe(200);
    expect((await t.api('PUT', path, { ...body, name: 'Renamed', enabled: false })).status).toBe(200);
    expect((await t.api('GET', '/v1/admin/whoami', undefined, second)).status).toBe(401);

    const other = await newUser({ role: 'owner' });
    const third = await sessionOf(other.email);
    expect((await t.api('DELETE', `/v1/admin/users/${other.id}`)).status).toBe(204);
    expect((await t.api('GET', '/v1/admin/whoami', undefined, third)).status).toBe(401);
  });

  test('an expired session is refused, and swept at the next sign-in', async () => {
    const user = await newUser({ role: 'owner' });
    const token = await sessionOf(user.email);
    await t.gateway.db
      .updateTable('user_sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('user_id', '=', user.id)
      .execute();
    const refused = await t.api('GET', '/v1/admin/whoami', undefined, token);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('UNAUTHORIZED');
    await sessionOf(user.email);
    const left = await t.gateway.db
      .selectFrom('user_sessions')
      .select('expires_at')
      .where('user_id', '=', user.id)
      .execute();
    expect(left).toHaveLength(1);
    expect(left[0].expires_at.getTime()).toBeGreaterThan(Date.now());
  });

  test('a tenant user sees only its tenant, and a viewer may not write', async () => {
    const viewer = await newUser({ role: 'viewer', tenant_id: 'acme' });
    const token = await sessionOf(viewer.email);
    expect((await t.api('GET', '/v1/admin/whoami', undefined, token)).body).toMatchObject({
      role: 'viewer',
      tenant_id: 'acme',
      permissions: { tenants: 'read', config: 'none' },
    });
    const tenants = await t.api('GET', '/v1/admin/tenants', undefined, token);
    expect(tenants.status).toBe(200);
    expect(tenants.body.data.map((x: { id: string }) => x.id)).toEqual(['acme']);
    // another tenant is refused, exactly as to a viewer PAT of acme
    const pat = await created(t, '/v1/admin/tokens', { name: 'v', role: 'viewer', tenant_id: 'acme' });
    const other = await t.api('GET', '/v1/admin/tenants/beta', undefined, token);
    expect(other.status).toBeGreaterThanOrEqual(403);
    expect(other.body).toEqual((await t.api('GET', '/v1/admin/tenants/beta', undefined, pat.token)).body);
    expect((await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'k' }, token)).status).toBe(403);
  });

  test('never accepted by the tenant portal, and the portal’s JWTs are never accepted on /v1/admin', async () => {
    const admin = await newUser({ role: 'admin', tenant_id: 'acme' });
    const session = await sessionOf(admin.email);
    const onPortal = await portal(t, 'GET', '/api/tenants/acme/routes', undefined, session);
    expect(onPortal.status).toBe(401);
    const jwt = (await portal(t, 'POST', '/api/auth/login', { email: admin.email, password: PASSWORD })).body.token;
    expect(jwt).toMatch(/^ey/);
    expect((await portal(t, 'GET', '/api/tenants/acme/routes', undefined, jwt)).status).toBe(200);
    expect((await t.api('GET', '/v1/admin/whoami', undefined, jwt)).status).toBe(401);
  });

  test('documented in the OpenAPI document, sign-in without a bearer token', async () => {
    const doc = (await t.api('GET', '/v1/admin/openapi.json', undefined, null)).body;
    expect(doc.paths['/v1/auth/sessions'].post).toMatchObject({ security: [] });
    expect(Object.keys(doc.paths['/v1/auth/sessions'].post.responses)).toEqual(['201', 'default']); // errors: the Error schema
    expect(doc.paths['/v1/auth/sessions/current'].delete.responses).toHaveProperty('204');
  });
});
