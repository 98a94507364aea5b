import Fastify from 'fastify';
import { auditRoutes } from '../server/control/audit-routes';
import { budgetUsageRoutes } from '../server/control/budget-usage';
import { configRoutes } from '../server/control/config-routes';
import { resourceRoutes } from '../server/control/resource-routes';
import { tokenUsageRoutes } from '../server/control/token-usage-routes';
import { trafficRoutes } from '../server/control/traffic-routes';
import { webhookRoutes } from '../server/control/webhook-routes';
import { healthRoutes } from '../server/health';
import { zodRouteSchemas } from '../server/http/route-schemas';
import { RESOURCES } from '../server/resources';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

interface Operation {
  method: string;
  path: string;
  query: { name: string; schema: { type?: string } }[];
}

/** Every operation of the OpenAPI document, with its path parameters filled in (`own` for a tenant, else `nope`). */
function operations(doc: { paths: Record<string, Record<string, { parameters: any[] }>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path: path.replace('{tenant_id}', 'own').replace(/\{[a-z_]+\}/g, 'nope'),
      query: op.parameters.filter((p) => p.in === 'query'),
    })),
  );
}

describe.each(testDialects())('route schemas (%s)', (dialect) => {
  let t: TestGateway;
  let ops: Operation[];
  let viewer: string;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await t.api('POST', '/v1/admin/tenants', { id: 'own', name: 'Own' });
    viewer = (await t.api('POST', '/v1/admin/tokens', { name: 'v', role: 'viewer', tenant_id: 'own' })).body.token;
    ops = operations((await t.api('GET', '/v1/admin/openapi.json', undefined, null)).body);
  });
  afterAll(() => t?.close());

  test('the query a route documents is the one that validates it: an unknown parameter is a 400 naming it', async () => {
    const withQuery = ops.filter((op) => op.query.length);
    // every resource's list documents its query, so the table below covers the registry
    for (const def of RESOURCES) {
      const list = `/v1/admin${def.path.replace('{tenant_id}', 'own')}`;
      expect(withQuery.map((op) => `${op.method} ${op.path}`)).toContain(`GET ${list}`);
    }
    for (const op of withQuery) {
      const res = await t.api(op.method, `${op.path}?not_a_param=1`);
      const seen = [op.method, op.path, res.status, res.body.error.code];
      expect(seen).toEqual([op.method, op.path, 400, 'VALIDATION_FAILED']);
      expect(res.body.error.details).toEqual([{ path: 'not_a_param', message: 'is not a known field' }]);
    }
  });

  test('a documented number parameter is checked by its schema, at its name', async () => {
    const isNumber = (q: Operation['query'][number]) => q.schema.type === 'number' || q.schema.type === 'integer';
    const numeric = ops.flatMap((op) => op.query.filter(isNumber).map((q) => ({ op, q })));
    expect(numeric.length).toBeGreaterThan(RESOURCES.length);
    for (const { op, q } of numeric) {
      const res = await t.api(op.method, `${op.path}?${q.name}=abc`);
      const paths = res.body.error.details.map((d: { path: string }) => d.path);
      expect([op.path, q.name, res.status, paths]).toEqual([op.path, q.name, 400, [q.name]]);
    }
  });

  test('a route that documents no query ignores one, as before', async () => {
    for (const url of ['/v1/admin/audit/public-key?x=1', '/v1/admin/audit/verify?x=1', '/health/live?x=1']) {
      expect([url, (await t.api('GET', url)).status]).toEqual([url, 200]);
    }
  });

  test('bodies are checked after the role: a viewer posting a wrong body to any kind gets 403, not 400', async () => {
    for (const def of RESOURCES) {
      const res = await t.api('POST', `/v1/admin${def.path.replace('{tenant_id}', 'own')}`, { not_a_field: 1 }, viewer);
      expect([def.kind, res.status]).toEqual([def.kind, 403]);
    }
  });
});

describe('route plugins', () => {
  const none = {} as never;
  const ADMIN_ROUTES = [
    [
      'resources',
      (app: ReturnType<typeof Fastify>) => app.register(resourceRoutes, { service: none, def: RESOURCES[0]! }),
    ],
    ['audit', (app: ReturnType<typeof Fastify>) => app.register(auditRoutes, { gw: none, service: none })],
    ['budget usage', (app: ReturnType<typeof Fastify>) => app.register(budgetUsageRoutes, { gw: none, service: none })],
    ['config', (app: ReturnType<typeof Fastify>) => app.register(configRoutes, { gw: none, service: none })],
    ['token usage', (app: ReturnType<typeof Fastify>) => app.register(tokenUsageRoutes, { gw: none, service: none })],
    ['traffic', (app: ReturnType<typeof Fastify>) => app.register(trafficRoutes, { gw: none, service: none })],
    ['webhooks', (app: ReturnType<typeof Fastify>) => app.register(webhookRoutes, { gw: none, service: none })],
  ] as const;

  test.each(ADMIN_ROUTES)('%s routes outside the bearer-token context refuse to start', async (_name, register) => {
    const app = Fastify();
    app.register(zodRouteSchemas);
    register(app);
    await expect(app.ready()).rejects.toThrow(/portico-bearer-auth/);
  });

  test('routes with schemas refuse to start without the zod compilers', async () => {
    const app = Fastify();
    app.register(healthRoutes, { gw: none });
    await expect(app.ready()).rejects.toThrow(/portico-zod-schemas/);
  });
});
