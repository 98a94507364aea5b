import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, type JWTHeaderParameters, SignJWT, UnsecuredJWT } from 'jose';
import { CLOCK_TOLERANCE_SECS } from '../server/portal/jwt';
import { loadPortalSigningKey } from '../server/portal/signing-key';
import { testDialects } from './support/databases';
import { created, uniqueId } from './support/fixtures';
import { startTestGateway, until, type TestGateway } from './support/gateway';
import { mailText, PASSWORD, portal, signUp, startSmtpCatcher } from './support/portal';

/**
 * The tenant portal's sign-in (seed 004, /api/auth/*): register, login, forgot/reset password through a real SMTP
 * server, the abuse limits on login, register and forgot-password, EdDSA JWTs made with jose (expiry, tampering, alg none, foreign keys, revocation by a password change), the login rate limit, sign-up off.
 */
describe.each(testDialects())('portal auth (%s)', (dialect) => {
  let t: TestGateway;
  let smtp: Awaited<ReturnType<typeof startSmtpCatcher>>;
  const email = () => `${uniqueId('dev')}@example.com`;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    t = await startTestGateway(
      dialect,
      {
        PORTICO_SMTP_URL: smtp.url,
        PORTICO_PORTAL_URL: 'https://portal.example.com',
        PORTICO_PORTAL_LOGIN_LIMIT_EMAIL: '3',
        PORTICO_PORTAL_LOGIN_LIMIT_ADDRESS: '8',
        PORTICO_PORTAL_RESET_TTL_SECS: '2',
        // every test here signs up from the one inject address; the register limit has a test (and gateway) of its own
        PORTICO_PORTAL_REGISTER_LIMIT_ADDRESS: '1000',
      },
      { webhooks: false },
    );
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  const resetTokenFor = async (address: string) => {
    await until(() => smtp.mails.some((m) => m.to === address), 5000);
    const mail = smtp.mails.filter((m) => m.to === address).pop()!;
    return /reset-password\?token=(ptc_rst_[A-Za-z0-9_-]+)/.exec(mailText(mail.raw))![1]!;
  };

  test('register creates a tenant, its admin user and a first API key, and answers a working session', async () => {
    const address = email();
    const res = await portal(t, 'POST', '/api/auth/register', {
      name: 'Acme Corp',
      email: address,
      password: PASSWORD,
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['gatewayApiKey', 'tenantId', 'token']);
    expect(res.body.tenantId).toMatch(/^acme-corp-[0-9a-f]{6}$/);
    expect(res.body.gatewayApiKey).toMatch(/^ptc_key_/);
    const tenant = await t.api('GET', `/v1/admin/tenants/${res.body.tenantId}`);
    expect(tenant.body).toMatchObject({ name: 'Acme Corp', status: 'ACTIVE' });
    const users = (await t.api('GET', `/v1/admin/users?tenant_id=${res.body.tenantId}`)).body.data;
    expect(users).toEqual([expect.objectContaining({ email: address, role: 'admin', password_set: true })]);
    const keys = (await t.api('GET', `/v1/admin/tenants/${res.body.tenantId}/keys`)).body.data;
    expect(keys).toEqual([expect.objectContaining({ name: 'default', status: 'ACTIVE' })]);
    const list = await portal(t, 'GET', `/api/tenants/${res.body.tenantId}/consumers`, undefined, res.body.token);
    expect(list.status).toBe(200);
    expect(list.body.map((c: any) => c.id)).toEqual([keys[0].id]);
    // the same email again is a 409 at email; a weak password a 400 at password
    const again = await portal(t, 'POST', '/api/auth/register', { name: 'x', email: address, password: PASSWORD });
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual([{ path: 'email', message: 'is taken' }]);
    for (const weak of ['short pass', 'aaaaaaaaaaaaaaaa'])
      expect(
        (await portal(t, 'POST', '/api/auth/register', { name: 'x', email: email(), password: weak })).body.error
          .details[0].path,
      ).toBe('password');
  });

  test('one of the most common passwords is refused at register and reset, whatever its case: a 400 at password', async () => {
    const common = await portal(t, 'POST', '/api/auth/register', {
      name: 'x',
      email: email(),
      password: 'PassWord1234',
    });
    expect(common.status).toBe(400);
    expect(common.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: 'password', message: expect.stringContaining('most common passwords') }],
    });
    const address = email();
    await signUp(t, address);
    await portal(t, 'POST', '/api/auth/forgot-password', { email: address });
    const token = await resetTokenFor(address);
    const reset = await portal(t, 'POST', '/api/auth/reset-password', { token, password: 'qwertyuiop123' });
    expect(reset.status).toBe(400);
    expect(reset.body.error.details).toEqual([{ path: 'password', message: expect.stringContaining('most common') }]);
    // refused before the token is spent: a good password still goes through with it
    expect(
      (await portal(t, 'POST', '/api/auth/reset-password', { token, password: 'uncommon enough 4711' })).status,
    ).toBe(200);
  });

  test('login answers {token, tenantId}; a wrong password or unknown email is the same 401', async () => {
    const address = email();
    const { tenantId } = await signUp(t, address);
    const ok = await portal(t, 'POST', '/api/auth/login', { email: address.toUpperCase(), password: PASSWORD });
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body).sort()).toEqual(['tenantId', 'token']);
    expect(ok.body.tenantId).toBe(tenantId);
    const wrong = await portal(t, 'POST', '/api/auth/login', { email: address, password: 'not the password!' });
    const unknown = await portal(t, 'POST', '/api/auth/login', { email: email(), password: PASSWORD });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
  });

  test('login attempts are limited per email and per address: 429 with Retry-After', async () => {
    const address = email();
    await signUp(t, address);
    const attempt = (who: string, ip: string, pw = 'wrong password 123') =>
      portal(t, 'POST', '/api/auth/login', { email: who, password: pw }, undefined, ip);
    for (let i = 0; i < 3; i++) expect((await attempt(address, `10.0.0.${i + 1}`)).status).toBe(401);
    // a fourth try on the email, from yet another address, even with the right password
    const limited = await attempt(address, '10.0.0.9', PASSWORD);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // per address: eight tries of different emails from one address, then 429 for any email from it
    for (let i = 0; i < 8; i++) expect((await attempt(email(), '10.9.9.9')).status).toBe(401);
    const byAddress = await attempt(email(), '10.9.9.9');
    expect(byAddress.status).toBe(429);
    expect(byAddress.headers['retry-after']).toBeDefined();
  });

  test('register is limited per address, forgot-password per address and per email: 429 with Retry-After', async () => {
    const limited = await startTestGateway(
      dialect,
      {
        PORTICO_PORTAL_REGISTER_LIMIT_ADDRESS: '2',
        PORTICO_PORTAL_FORGOT_LIMIT_EMAIL: '2',
        PORTICO_PORTAL_FORGOT_LIMIT_ADDRESS: '4',
      },
      { webhooks: false },
    );
    try {
      const register = (ip: string, password = PASSWORD) =>
        portal(limited, 'POST', '/api/auth/register', { name: 'Team', email: email(), password }, undefined, ip);
      expect((await register('10.1.0.1')).status).toBe(201);
      expect((await register('10.1.0.1', 'short')).status).toBe(400); // a refused attempt counts too
      const third = await register('10.1.0.1');
      expect([third.status, third.body.error.code]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
      expect((await register('10.1.0.2')).status).toBe(201); // another address is unaffected

      const forgot = (address: string, ip: string) =>
        portal(limited, 'POST', '/api/auth/forgot-password', { email: address }, undefined, ip);
      // per email, known or not alike, whatever the address
      const known = email();
      await signUp(limited, known);
      for (const target of [known, email()]) {
        expect((await forgot(target, '10.2.0.1')).status).toBe(200);
        expect((await forgot(target.toUpperCase(), '10.2.0.2')).status).toBe(200);
        const over = await forgot(target, '10.2.0.3');
        expect([over.status, over.body.error.code]).toEqual([429, 'RATE_LIMITED']);
        expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      }
      // per address: four requests from one address for different emails, then 429 for any email from it
      for (let i = 0; i < 4; i++) expect((await forgot(email(), '10.3.0.1')).status).toBe(200);
      const byAddress = await forgot(email(), '10.3.0.1');
      expect(byAddress.status).toBe(429);
      expect(byAddress.headers['retry-after']).toBeDefined();
    } finally {
      await limited.close();
    }
  });

  test('forgot-password answers the same body, at about the same time, known email or not; mails only the known', async () => {
    const known = email();
    await signUp(t, known);
    const unknown = email();
    const timed = async (address: string) => {
      const start = performance.now();
      const res = await portal(t, 'POST', '/api/auth/forgot-password', { email: address });
      return { res, ms: performance.now() - start };
    };
    const a = await timed(known);
    const b = await timed(unknown);
    expect([a.res.status, b.res.status]).toEqual([200, 200]);
    expect(a.res.text).toBe(b.res.text);
    expect(Object.keys(a.res.body)).toEqual(['message']);
    expect(Math.min(a.ms, b.ms)).toBeGreaterThanOrEqual(390);
    expect(Math.abs(a.ms - b.ms)).toBeLessThan(250);
    await resetTokenFor(known);
    expect(smtp.mails.some((m) => m.to === unknown)).toBe(false);
    // the outbox row of a sent mail keeps no body (it held the link)
    const rows = await t.gateway.db
      .selectFrom('portal_mail_outbox')
      .selectAll()
      .where('recipient', '=', known)
      .execute();
    expect(rows).toEqual([expect.objectContaining({ status: 'SENT', body_sealed: '' })]);
  });

  test('a reset token works once, sets the password and ends older sessions; it is stored hashed', async () => {
    const address = email();
    const { token: session, tenantId } = await signUp(t, address);
    await portal(t, 'POST', '/api/auth/forgot-password', { email: address });
    const token = await resetTokenFor(address);
    const stored = await t.gateway.db.selectFrom('portal_reset_tokens').select('token_hash').execute();
    expect(JSON.stringify(stored)).not.toContain(token);
    const newPassword = 'another good passphrase 7';
    const weak = await portal(t, 'POST', '/api/auth/reset-password', { token, password: 'short' });
    expect(weak.status).toBe(400); // refused before the token is spent
    const reset = await portal(t, 'POST', '/api/auth/reset-password', { token, password: newPassword });
    expect(reset.status).toBe(200);
    expect(Object.keys(reset.body)).toEqual(['message']);
    const twice = await portal(t, 'POST', '/api/auth/reset-password', { token, password: 'yet another passphrase 8' });
    expect(twice.status).toBe(400);
    expect(twice.body.error.details).toEqual([{ path: 'token', message: 'is not valid, already used or expired' }]);
    expect((await portal(t, 'GET', `/api/tenants/${tenantId}/routes`, undefined, session)).status).toBe(401);
    expect((await portal(t, 'POST', '/api/auth/login', { email: address, password: PASSWORD })).status).toBe(401);
    expect((await portal(t, 'POST', '/api/auth/login', { email: address, password: newPassword })).status).toBe(200);
  });

  test('a reset token expires', async () => {
    const address = email();
    await signUp(t, address);
    await portal(t, 'POST', '/api/auth/forgot-password', { email: address });
    const token = await resetTokenFor(address);
    await new Promise((r) => setTimeout(r, 2100));
    const late = await portal(t, 'POST', '/api/auth/reset-password', { token, password: 'another good passphrase 9' });
    expect(late.status).toBe(400);
    expect(late.body.error.details[0].path).toBe('token');
  });

  test('a tampered, foreign-key, unsigned or expired JWT is a 401; a PAT is no portal session; a JWT no admin token', async () => {
    const { token, tenantId } = await signUp(t, email());
    const url = `/api/tenants/${tenantId}/services`;
    expect((await portal(t, 'GET', url, undefined, token)).status).toBe(200);
    const [head, payload, sig] = token.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(head, 'base64url').toString())).toEqual({ alg: 'EdDSA', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'pwv', 'sub', 'tenant']);
    expect(claims.exp - claims.iat).toBe(3600);
    const forged = Buffer.from(JSON.stringify({ ...claims, tenant: 'someone-else' })).toString('base64url');
    const flipped = `${head}.${payload}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const bad of [`${head}.${forged}.${sig}`, flipped, 'not-a-jwt', `${head}.${payload}`]) {
      const res = await portal(t, 'GET', url, undefined, bad);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    }
    const pat = (await created(t, '/v1/admin/tokens', { name: 'pat', role: 'admin', tenant_id: tenantId })).token;
    expect((await portal(t, 'GET', url, undefined, pat)).status).toBe(401);
    expect((await t.api('GET', `/v1/admin/tenants/${tenantId}`, undefined, token)).status).toBe(401);
  });

  test('only EdDSA by the gateway’s own key passes: alg none, HMAC with the public key, another key are 401', async () => {
    const { token, tenantId } = await signUp(t, email());
    const url = `/api/tenants/${tenantId}/routes`;
    const claims = decodeJwt(token);
    const { pwv, tenant } = claims;
    const fresh = (protectedHeader: JWTHeaderParameters) =>
      new SignJWT({ tenant, pwv })
        .setProtectedHeader(protectedHeader)
        .setSubject(claims.sub!)
        .setIssuer(claims.iss!)
        .setAudience(claims.aud!)
        .setIssuedAt()
        .setExpirationTime('10m');
    // the gateway's own key, unsealed from the settings table as the server does: the claims above are good ones
    const own = await loadPortalSigningKey(t.gateway.db, t.gateway.keys.masterKey);
    expect((await portal(t, 'GET', url, undefined, await fresh({ alg: 'EdDSA' }).sign(own.privateKey))).status).toBe(
      200,
    );
    const unsigned = new UnsecuredJWT({ ...claims, iat: Math.floor(Date.now() / 1000) }).encode();
    const otherEd = generateKeyPairSync('ed25519').privateKey;
    const otherEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const publicPem = own.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const hmacWithPublicKey = await fresh({ alg: 'HS256' }).sign(new TextEncoder().encode(publicPem));
    const bad: [string, string][] = [
      ['alg none', unsigned],
      ['another Ed25519 key', await fresh({ alg: 'EdDSA' }).sign(otherEd)],
      ['ES256, another key', await fresh({ alg: 'ES256' }).sign(otherEc)],
      ['HS256 keyed with the public key', hmacWithPublicKey],
      [
        'no tenant claim',
        await new SignJWT({ pwv })
          .setProtectedHeader({ alg: 'EdDSA' })
          .setSubject(claims.sub!)
          .setIssuer(claims.iss!)
          .setAudience(claims.aud!)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(own.privateKey),
      ],
      ['another audience', await fresh({ alg: 'EdDSA' }).setAudience('someone-else').sign(own.privateKey)],
      [
        'expired beyond the tolerance',
        await fresh({ alg: 'EdDSA' })
          .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
          .setExpirationTime(Math.floor(Date.now() / 1000) - CLOCK_TOLERANCE_SECS - 5)
          .sign(own.privateKey),
      ],
    ];
    for (const [what, jwt] of bad) {
      const res = await portal(t, 'GET', url, undefined, jwt);
      expect({ what, status: res.status, code: res.body?.error?.code }).toEqual({
        what,
        status: 401,
        code: 'UNAUTHORIZED',
      });
    }
  });

  test('a session expires after its TTL (and the small clock tolerance)', async () => {
    const short = await startTestGateway(dialect, { PORTICO_PORTAL_TOKEN_TTL_SECS: '1' }, { webhooks: false });
    try {
      const s = await signUp(short, email());
      const surl = `/api/tenants/${s.tenantId}/routes`;
      expect((await portal(short, 'GET', surl, undefined, s.token)).status).toBe(200);
      await new Promise((r) => setTimeout(r, (1 + CLOCK_TOLERANCE_SECS) * 1000 + 1100));
      expect((await portal(short, 'GET', surl, undefined, s.token)).status).toBe(401);
    } finally {
      await short.close();
    }
  });

  test('an admin changing the password, or disabling the user, ends the sessions at once', async () => {
    const address = email();
    const { token, tenantId } = await signUp(t, address);
    const url = `/api/tenants/${tenantId}/routes`;
    const user = (await t.api('GET', `/v1/admin/users?tenant_id=${tenantId}`)).body.data[0];
    const put = { email: address, name: user.name, role: 'admin', tenant_id: tenantId };
    expect((await t.api('PUT', `/v1/admin/users/${user.id}`, { ...put, password: 'set by an admin 123' })).status).toBe(
      200,
    );
    expect((await portal(t, 'GET', url, undefined, token)).status).toBe(401);
    const fresh = (await portal(t, 'POST', '/api/auth/login', { email: address, password: 'set by an admin 123' }))
      .body;
    expect((await portal(t, 'GET', url, undefined, fresh.token)).status).toBe(200);
    expect((await t.api('PUT', `/v1/admin/users/${user.id}`, { ...put, enabled: false })).status).toBe(200);
    expect((await portal(t, 'GET', url, undefined, fresh.token)).status).toBe(401);
  });

  test('sign-up turned off is a 403; login still works', async () => {
    const closed = await startTestGateway(dialect, { PORTICO_PORTAL_SIGNUP: 'false' }, { webhooks: false });
    try {
      const res = await portal(closed, 'POST', '/api/auth/register', { name: 'x', email: email(), password: PASSWORD });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      await created(closed, '/v1/admin/tenants', { id: 'invited', name: 'Invited' });
      const address = email();
      await created(closed, '/v1/admin/users', {
        email: address,
        name: 'Invitee',
        role: 'developer',
        tenant_id: 'invited',
        password: PASSWORD,
      });
      const login = await portal(closed, 'POST', '/api/auth/login', { email: address, password: PASSWORD });
      expect(login.body).toEqual({ token: expect.any(String), tenantId: 'invited' });
    } finally {
      await closed.close();
    }
  });
});
