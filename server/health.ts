import { z } from 'zod';
import { ApiError } from './errors';
import type { Gateway } from './gateway';
import { routePlugin } from './http/route-plugin';
import { ZOD_SCHEMAS } from './http/route-schemas';
import { isDatabaseReady } from './store/database';

const live = z.object({ status: z.literal('ok') });
const ready = z.object({ status: z.literal('ready') });

/** `/health/live` (the process answers) and `/health/ready` (the database answers); no authentication. */
export const healthRoutes = routePlugin<{ gw: Gateway }>(
  'portico-health-routes',
  [ZOD_SCHEMAS],
  async (app, { gw }) => {
    const tags = ['Health'];
    const security: [] = [];
    app.get(
      '/health/live',
      { schema: { summary: 'Liveness probe', tags, security, response: { 200: live } } },
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/health/ready',
      {
        schema: {
          summary: 'Readiness probe: 503 until the database answers',
          tags,
          security,
          response: { 200: ready },
        },
      },
      async () => {
        if (!(await isDatabaseReady(gw.db))) throw new ApiError('NOT_READY', 'The database does not answer');
        return { status: 'ready' };
      },
    );
  },
);
