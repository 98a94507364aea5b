import type { FastifyInstance } from 'fastify';
import { apiSecurityHeaders, inputGuard, jsonBodies, VERSION } from '../control/admin-app';
import { ResourceService } from '../control/resource-service';
import type { Gateway } from '../gateway';
import { nodeAdmin } from './plugin';

/**
 * The node admin API on a data node's data port (a data node has no admin port): in a context of its own, with the
 * admin API's body parsing, input guard and security headers, which the proxies' routes around it do not use.
 */
export async function nodeAdminOnDataPort(app: FastifyInstance, { gw }: { gw: Gateway }): Promise<void> {
  apiSecurityHeaders(app);
  app.register(jsonBodies);
  app.register(inputGuard);
  app.register(nodeAdmin, { gw, service: new ResourceService(gw), version: VERSION });
}
