import { pathsOverlap } from '../server/control/path-claims';
import { RESOURCES } from '../server/resources';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

describe('path prefixes overlap at segment boundaries', () => {
  test.each([
    ['/api', '/api', true],
    ['/api', '/api/', true],
    ['/api/', '/api/v2', true],
    ['/api', '/api/v2/x', true],
    ['/', '/anything', true],
    ['/api', '/apix', false],
    ['/api/v2', '/api/v3', false],
    ['/a/b', '/a', true],
    ['/%61pi', '/api/v2', true],
    ['/x/../api', '/api', true],
    ['/%2e%2e/api/', '/api', true],
    ['/api%2Fv2', '/api', true],
    ['/api%2Fv2', '/apix', false],
    ['//', '/x', true],
  ])('%s and %s: %s', (a, b, overlap) => {
    expect(pathsOverlap(a, b)).toBe(overlap);
    expect(pathsOverlap(b, a)).toBe(overlap);
  });

  test('the HTTP route is the kind that claims its path prefix', () => {
    expect(RESOURCES.filter((d) => d.claims).map((d) => [d.kind, d.claims!.field])).toEqual([['route', 'path_prefix']]);
  });
});

describe.each(testDialects())('path ownership (%s)', (dialect) => {
  let t: TestGateway;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    for (const id of ['acme', 'beta']) {
      await t.api('POST', '/v1/admin/tenants', { id, name: id });
      tokens[id] = (
        await t.api('POST', '/v1/admin/tokens', { name: `${id}-admin`, role: 'admin', tenant_id: id })
      ).body.token;
    }
  });
  afterAll(() => t?.close());

  const route = (id: string, path: string, extra: object = {}) => ({
    id,
    path_prefix: path,
    backend_url: 'https://backend.example.com',
    ...extra,
  });
  /** Creates as a tenant's admin, or as the platform (owner token) for a global route. */
  const create = (owner: 'acme' | 'beta' | 'platform', body: object) =>
    t.api('POST', '/v1/admin/routes', body, owner === 'platform' ? undefined : tokens[owner]);
  const expectClaimed = (res: { status: number; body: any; text: string }, ...secrets: string[]) => {
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('CONFLICT');
    expect(res.body.error.details).toEqual([{ path: 'path_prefix', message: 'is already claimed by another owner' }]);
    for (const s of secrets) expect(res.text).not.toContain(s); // neither the other owner nor its route is named
  };

  test('tenant vs tenant: equal, nested, trailing-slash and respelled prefixes are refused; a sibling is not', async () => {
    expect((await create('acme', route('acme-api', '/api'))).status).toBe(201);
    for (const path of ['/api', '/api/', '/api/v2', '/%61pi/x', '/x/../api'])
      expectClaimed(await create('beta', route('beta-api', path)), 'acme', 'acme-api');
    expect((await create('beta', route('beta-apix', '/apix'))).status).toBe(201);
    expect((await t.api('GET', '/v1/admin/routes/beta-api')).status).toBe(404);
  });

  test('a tenant may not claim the root, in any spelling (it would lock every other owner out)', async () => {
    for (const path of ['/', '//', '/x/..', '/%2e']) {
      const res = await create('beta', route('beta-root', path));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([
        { path: 'path_prefix', message: expect.stringContaining('at least one segment') },
      ]);
    }
    expect((await t.api('GET', '/v1/admin/routes/beta-root')).status).toBe(404);
  });

  test('one owner may overlap its own paths freely', async () => {
    expect((await create('acme', route('acme-api-v2', '/api/v2'))).status).toBe(201);
    expect((await create('acme', route('acme-api-again', '/api/', { priority: 5 }))).status).toBe(201);
    expect((await create('platform', route('global-docs', '/docs'))).status).toBe(201);
    expect((await create('platform', route('global-docs-v1', '/docs/v1'))).status).toBe(201);
  });

  test('tenant vs global, both directions', async () => {
    expectClaimed(await create('acme', route('acme-docs', '/docs/v1/x')), 'global-docs');
    expectClaimed(await create('beta', route('beta-docs', '/docs')), 'global-docs');
    expectClaimed(await create('platform', route('global-api', '/api/v2/admin')), 'acme', 'acme-api');
    expectClaimed(await create('platform', { ...route('global-root', '/'), tenant_id: null }), 'acme');
  });

  test('a disabled route still claims its path', async () => {
    expect((await create('acme', route('acme-off', '/paused', { enabled: false }))).status).toBe(201);
    expectClaimed(await create('beta', route('beta-paused', '/paused/now')), 'acme-off');
  });

  test('an update (PUT) into a claimed path is refused and changes nothing; other edits of a route are not held up', async () => {
    const put = await t.api('PUT', '/v1/admin/routes/beta-apix', route('beta-apix', '/api/v3'), tokens.beta);
    expectClaimed(put, 'acme');
    const read = (await t.api('GET', '/v1/admin/routes/beta-apix', undefined, tokens.beta)).body;
    expect([read.path_prefix, read.version]).toEqual(['/apix', 1]);
    const edit = await t.api(
      'PUT',
      '/v1/admin/routes/beta-apix',
      route('beta-apix', '/apix', { description: 'x' }),
      tokens.beta,
    );
    expect([edit.status, edit.body.version]).toEqual([200, 2]);
  });

  test('a rollback into a path another owner claimed since is refused', async () => {
    expect((await create('beta', route('beta-moving', '/old-home'))).status).toBe(201);
    expect(
      (await t.api('PUT', '/v1/admin/routes/beta-moving', route('beta-moving', '/new-home'), tokens.beta)).status,
    ).toBe(200);
    expect((await create('acme', route('acme-old-home', '/old-home/sub'))).status).toBe(201);
    const back = await t.api('POST', '/v1/admin/routes/beta-moving/rollback', { version: 1 }, tokens.beta);
    expectClaimed(back, 'acme-old-home');
    expect((await t.api('GET', '/v1/admin/routes/beta-moving')).body).toMatchObject({
      path_prefix: '/new-home',
      version: 2,
    });
  });

  test('a config import is held to the same rule (create and update), and writes nothing', async () => {
    const doc = (await t.api('GET', '/v1/admin/config/export')).body;
    const count = async () => (await t.api('GET', '/v1/admin/routes?limit=500')).body.data.length;
    const before = await count();
    const at = doc.routes.length;
    const created = await t.api('POST', '/v1/admin/config/import?mode=merge', {
      ...doc,
      routes: [...doc.routes, { ...route('imported', '/api/v9'), tenant_id: 'beta' }],
    });
    expect(created.status).toBe(409);
    expect(created.body.error.details).toEqual([
      { path: `routes.${at}.path_prefix`, message: 'is already claimed by another owner' },
    ]);
    const i = doc.routes.findIndex((r: any) => r.id === 'beta-apix');
    doc.routes[i].path_prefix = '/docs';
    const updated = await t.api('POST', '/v1/admin/config/import?mode=replace&dry_run=true', doc);
    expect([updated.status, updated.body.error.details[0].path]).toEqual([409, `routes.${i}.path_prefix`]);
    expect(await count()).toBe(before);
  });

  test('concurrent claims of one path by two owners: exactly one wins', async () => {
    for (let n = 0; n < 5; n++) {
      const path = `/race-${n}`;
      const results = await Promise.all([
        create('acme', route(`acme-race-${n}`, path)),
        create('beta', route(`beta-race-${n}`, `${path}/x`)),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    }
  });
});
