import { API_SECURITY_HEADERS } from '../server/control/admin-app';
import { CONSOLE_HEADERS } from '../server/console/console-routes';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

/**
 * The admin port's API surfaces (`/v1/admin/*`, `/admin/*`, `/api/*`) answer JSON that a browser must never sniff
 * into a page, frame or run: every answer of theirs, success or error, carries nosniff, DENY and a CSP that allows
 * nothing. The console keeps its own, stricter set. Headers involve no storage: one dialect is enough.
 */
describe('security headers on the admin port (pglite)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway('pglite');
  }, 120_000);
  afterAll(() => t?.close());

  const get = async (url: string, token: string | null = OWNER_TOKEN) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    return t.admin.inject({ method: 'GET', url, headers });
  };
  const CALLERS: Record<string, string | null> = { owner: OWNER_TOKEN, 'no token': null, 'bad token': 'not-a-token' };
  const expected = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  };

  test('the set is the one the issue asks for', () => {
    expect(API_SECURITY_HEADERS).toEqual(expected);
  });

  test.each([
    ['/v1/admin/tenants', 'owner', 200],
    ['/v1/admin/tenants', 'no token', 401],
    ['/v1/admin/no-such-thing', 'owner', 404],
    ['/v1/admin/openapi.json', 'no token', 200],
    ['/admin/health', 'owner', 200],
    ['/admin/health', 'bad token', 401],
    ['/admin/apis/nothing-here', 'owner', 404],
    ['/admin/openapi.json', 'owner', 200],
    ['/api/openapi.json', 'no token', 200],
    ['/api/tenants/acme/routes', 'no token', 401],
  ])('GET %s (%s) answers %d with the headers', async (url, token, status) => {
    const res = await get(url, CALLERS[token]!);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    for (const [name, value] of Object.entries(expected)) expect([name, res.headers[name]]).toEqual([name, value]);
  });

  test('a write, and a bad body, carry them too', async () => {
    const headers = { authorization: `Bearer ${OWNER_TOKEN}`, 'content-type': 'application/json' };
    const created = await t.admin.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers,
      payload: JSON.stringify({ id: 'headers-co', name: 'Headers' }),
    });
    expect(created.statusCode).toBe(201);
    const bad = await t.admin.inject({ method: 'POST', url: '/admin/apis', headers, payload: '{"id":' });
    expect(bad.statusCode).toBe(400);
    for (const res of [created, bad]) expect(res.headers).toMatchObject(expected);
  });

  test("the console keeps its own, stricter policy; the probes and other paths are not the API's", async () => {
    const page = await get('/console/', null);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CONSOLE_HEADERS['content-security-policy']);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const live = await get('/health/live', null);
    expect(live.statusCode).toBe(200);
    expect(live.headers['content-security-policy']).toBeUndefined();
    // a path that only starts like an API surface is not one
    expect((await get('/apiary', null)).headers['x-frame-options']).toBeUndefined();
  });
});
