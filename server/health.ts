import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError } from './errors';
import type { Gateway } from './gateway';
import { isDatabaseReady } from './store/database';

/** `/health/live` (the process answers) and `/health/ready` (the database answers); no authentication. */
export function registerHealthRoutes(app: FastifyInstance, gw: Gateway): void {
  const tag = 'Health';
  app.get('/health/live', { config: { openapi: { tag, summary: 'Liveness probe', public: true, responses: { 200: z.object({ status: z.literal('ok') }) } } } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { config: { openapi: { tag, summary: 'Readiness probe: 503 until the database answers', public: true, responses: { 200: z.object({ status: z.literal('ready') }) } } } }, async () => {
    if (!(await isDatabaseReady(gw.db))) throw new ApiError('NOT_READY', 'The database does not answer');
    return { status: 'ready' };
  });
}
