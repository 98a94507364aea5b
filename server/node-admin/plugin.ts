import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../gateway';
import { installErrorHandlers, renderAdminError } from '../http/error-handler';
import { openApi } from '../control/openapi';
import type { ResourceService } from '../control/resource-service';
import { apiRoutes } from './api-routes';
import { requireNodeAdminToken } from './auth';
import { controlPlaneBreakerOf } from './control-plane-breaker';
import { mtlsRoutes } from './mtls-routes';
import { nodePolicyRoutes } from './policy-routes';
import { quotaRoutes } from './quota-routes';
import { runtimeRoutes } from './runtime-routes';

/** Where the node admin API lives on whichever port serves it; the admin API's own document leaves it out. */
export const NODE_ADMIN_PATHS = /^\/admin(\/|$)/;

export interface NodeAdminOptions {
  gw: Gateway;
  service: ResourceService;
  version: string;
}

/**
 * The node admin API of seed 003, `/admin/*`, with its own error shape (the admin API's), authentication and OpenAPI
 * document (`/admin/openapi.json`). An encapsulated plugin: registered on the admin port (control and all nodes) or on
 * the data port (data nodes, which have no admin port); either way it reports the state of the node it runs on.
 */
export async function nodeAdmin(app: FastifyInstance, { gw, service, version }: NodeAdminOptions): Promise<void> {
  const breaker = controlPlaneBreakerOf(gw);
  app.register(
    async (admin) => {
      installErrorHandlers(admin, renderAdminError);
      requireNodeAdminToken(admin, gw, breaker);
      // the document first: it sees the routes registered after it, in this context only
      await admin.register(openApi, {
        title: 'Portico node admin API',
        version,
        path: '/openapi.json',
        docsPage: false,
      });
      admin.register(runtimeRoutes, { gw, service, breaker, version });
      admin.register(apiRoutes, { service, breaker });
      admin.register(nodePolicyRoutes, { gw, service, breaker });
      admin.register(quotaRoutes, { gw, service, breaker });
      admin.register(mtlsRoutes, { gw });
    },
    { prefix: '/admin' },
  );
}
