import Fastify, { LogController, type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Gateway } from '../gateway';
import { accessLog } from '../http/access-log';
import { receiveTimeouts } from '../http/receive-timeouts';
import { healthRoutes } from '../health';
import { zodRouteSchemas } from '../http/route-schemas';
import { metricsRoute } from '../metrics-route';
import { RESOURCES } from '../resources';
import { auditRoutes } from './audit-routes';
import { budgetUsageRoutes } from './budget-usage';
import { configRoutes } from './config-routes';
import { policyRoutes } from './policy-routes';
import { priorityRoutes } from './priority-routes';
import { tokenUsageRoutes } from './token-usage-routes';
import { trafficRoutes } from './traffic-routes';
import { webhookRoutes } from './webhook-routes';
import { mcpAdminRoutes } from '../mcp/admin-routes';
import { mcpApprovalRoutes } from '../mcp/approval-routes';
import { portalApi } from '../portal/portal-api';
import { bearerAuth } from './authenticate';
import { whoamiRoutes } from './whoami-routes';
import { consoleRoutes } from '../console/console-routes';
import { userSessionRoutes } from '../users/sessions-routes';
import { ADMIN_INPUT, refuseUnsafeInput, requestIdOf } from '../http/input-guard';
import {
  adminErrorBody,
  clientErrorHandler,
  frameworkErrors,
  installErrorHandlers,
  renderAdminError,
} from '../http/error-handler';
import { NODE_ADMIN_PATHS, nodeAdmin } from '../node-admin/plugin';
import { openApi } from './openapi';
import { resourceRoutes } from './resource-routes';
import { ResourceService } from './resource-service';

export const VERSION = '0.1.0';

/** Only JSON bodies (anything else is 415), where an empty body (a bare POST …/revoke) means "no body". */
export const jsonBodies = fp(
  async (app) => {
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
  },
  { name: 'portico-json-bodies' },
);

/**
 * Every string of a request (body, path parameters, query; values and keys at any depth) is checked before a handler
 * runs, so what PostgreSQL cannot store (NUL, unpaired surrogates) or canonical JSON cannot serialize (deep nesting)
 * is a 400 naming the field, never a 500. It runs before the route schemas validate.
 */
export const inputGuard = fp(
  async (app) => {
    app.addHook('preValidation', async (req) => {
      refuseUnsafeInput(req.params, ADMIN_INPUT);
      refuseUnsafeInput(req.query, ADMIN_INPUT);
      refuseUnsafeInput(req.body, ADMIN_INPUT);
    });
  },
  { name: 'portico-input-guard' },
);

/** The API surfaces of this port: JSON for programs, never a page to render or frame (the console sets its own). */
const API_PATHS = /^\/(v1\/admin|admin|api)(\/|\?|$)/;

/** What a browser must not do with an API answer: guess its type, render it in a frame, or run anything from it. */
export const API_SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

/** Sets them on every answer of the API surfaces, errors and 404s included; a header a route set itself is kept. */
export function apiSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply) => {
    if (!API_PATHS.test(req.url)) return;
    for (const [name, value] of Object.entries(API_SECURITY_HEADERS))
      if (!reply.hasHeader(name)) reply.header(name, value);
  });
}

/** `/v1/admin/*`: every route behind the bearer token, each route file a plugin given what it needs. */
async function adminApi(admin: FastifyInstance, { gw, service }: { gw: Gateway; service: ResourceService }) {
  admin.register(bearerAuth, { gw });
  for (const def of RESOURCES) admin.register(resourceRoutes, { service, def });
  for (const routes of [
    auditRoutes,
    budgetUsageRoutes,
    webhookRoutes,
    configRoutes,
    tokenUsageRoutes,
    trafficRoutes,
    policyRoutes,
  ]) {
    admin.register(routes, { gw, service });
  }
  admin.register(priorityRoutes, { gw });
  admin.register(whoamiRoutes);
  admin.register(mcpAdminRoutes, { gw, service });
  admin.register(mcpApprovalRoutes, { gw, service });
}

/**
 * The control plane: `/v1/admin/*` (bearer auth), health probes, `/metrics`, the OpenAPI document and its docs page,
 * and the web console at `/console` (static files that call the admin API like any client).
 */
export function buildAdminApp(gw: Gateway): FastifyInstance {
  const app = Fastify({
    ...receiveTimeouts(gw.config),
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    genReqId: requestIdOf,
    frameworkErrors: frameworkErrors(renderAdminError),
    clientErrorHandler: clientErrorHandler(adminErrorBody),
    loggerInstance: gw.log,
    logController: new LogController({ disableRequestLogging: true }), // one line per request instead: accessLog
  }) as unknown as FastifyInstance;
  accessLog(app);
  installErrorHandlers(app, renderAdminError);
  apiSecurityHeaders(app);
  const service = new ResourceService(gw);
  app.decorate('resources', service);
  // in this order: what every route relies on, then the document (it sees the routes registered after it)
  app.register(zodRouteSchemas);
  app.register(jsonBodies);
  app.register(inputGuard);
  app.register(openApi, { title: 'Portico Admin API', version: VERSION, skip: NODE_ADMIN_PATHS });
  app.register(healthRoutes, { gw });
  app.register(metricsRoute, { gw });
  app.register(adminApi, { prefix: '/v1/admin', gw, service });
  app.register(userSessionRoutes, { prefix: '/v1/auth', gw });
  app.register(portalApi, { gw, service, version: VERSION });
  app.register(nodeAdmin, { gw, service, version: VERSION });
  app.register(consoleRoutes);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    resources: ResourceService;
  }
}
