import Fastify, { type FastifyInstance } from 'fastify';
import type { Gateway } from '../gateway';
import { receiveTimeouts } from '../http/receive-timeouts';
import { registerHealthRoutes } from '../health';
import { registerMetricsRoute } from '../metrics-route';
import { RESOURCES } from '../resources';
import { registerAuditRoutes } from './audit-routes';
import { registerBudgetUsage } from './budget-usage';
import { registerConfigRoutes } from './config-routes';
import { registerTokenUsageRoutes } from './token-usage-routes';
import { registerTrafficRoutes } from './traffic-routes';
import { registerWebhookRoutes } from './webhook-routes';
import { requireBearer } from './authenticate';
import { ADMIN_INPUT, refuseUnsafeInput, requestIdOf } from '../http/input-guard';
import { adminErrorBody, clientErrorHandler, frameworkErrors, installErrorHandlers, renderAdminError } from '../http/error-handler';
import { collectOpenApi, renderDocsPage } from './openapi';
import { registerResourceRoutes } from './resource-routes';
import { ResourceService } from './resource-service';

const VERSION = '0.1.0';

/** Only JSON bodies (anything else is 415), where an empty body (a bare POST …/revoke) means "no body". */
export function acceptJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });
}

/**
 * Every string of a request (body, path parameters, query; values and keys at any depth) is checked before a handler
 * runs, so what PostgreSQL cannot store (NUL, unpaired surrogates) or canonical JSON cannot serialize (deep nesting)
 * is a 400 naming the field, never a 500.
 */
export function guardInput(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    refuseUnsafeInput(req.params, ADMIN_INPUT);
    refuseUnsafeInput(req.query, ADMIN_INPUT);
    refuseUnsafeInput(req.body, ADMIN_INPUT);
  });
}

/** The control plane: `/v1/admin/*` (bearer auth), health probes, `/metrics`, the OpenAPI document and its docs page. */
export function buildAdminApp(gw: Gateway): FastifyInstance {
  const app = Fastify({
    ...receiveTimeouts(gw.config),
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    genReqId: requestIdOf,
    frameworkErrors: frameworkErrors(renderAdminError),
    clientErrorHandler: clientErrorHandler(adminErrorBody),
    loggerInstance: gw.log,
  }) as unknown as FastifyInstance;
  acceptJson(app);
  guardInput(app);
  installErrorHandlers(app, renderAdminError);
  const openapi = collectOpenApi(app, { title: 'Portico Admin API', version: VERSION });
  const service = new ResourceService(gw);
  app.decorate('resources', service);

  registerHealthRoutes(app, gw);
  registerMetricsRoute(app, gw);
  app.get('/v1/admin/openapi.json', async () => openapi());
  app.get('/docs', async (_req, reply) => reply.type('text/html; charset=utf-8').send(renderDocsPage(openapi())));

  app.register(
    async (admin) => {
      requireBearer(admin, gw);
      for (const def of RESOURCES) registerResourceRoutes(admin, service, def);
      registerAuditRoutes(admin, gw, service);
      registerBudgetUsage(admin, gw, service);
      registerWebhookRoutes(admin, gw, service);
      registerConfigRoutes(admin, gw, service);
      registerTokenUsageRoutes(admin, gw, service);
      registerTrafficRoutes(admin, gw, service);
    },
    { prefix: '/v1/admin' },
  );
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    resources: ResourceService;
  }
}
