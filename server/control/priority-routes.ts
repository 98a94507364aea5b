import { z } from 'zod';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { priorityAdmission } from '../priority/instance';
import { PLATFORM_ROLES, type AdminRole } from '../resources/token';
import { BEARER_AUTH } from './authenticate';
import { callContext } from './request-state';

const counts = z.record(z.string(), z.number());
const stats = z.object({
  object: z.literal('priority_stats'),
  data: z.object({
    currentConcurrent: z.number(),
    maxConcurrent: z.number(),
    perTierConcurrent: counts,
    perTierThresholdPct: counts,
  }),
});

/**
 * `GET /priority/stats` (seed 001): this instance's requests in flight per priority tier and the tiers' thresholds,
 * in the seed's camelCase shape. The load of the whole gateway is the platform's business: platform roles only.
 */
export const priorityRoutes = routePlugin<{ gw: Gateway }>(
  'portico-priority-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw }) => {
    const summary = "Priority admission: this instance's requests in flight per tier, and each tier's threshold";
    const schema = { summary, tags: ['Priority admission'], response: { 200: stats } };
    app.get('/priority/stats', { schema }, async (req) => {
      const { caller } = callContext(req);
      if (!(PLATFORM_ROLES as readonly AdminRole[]).includes(caller.role))
        throw new ApiError('FORBIDDEN', 'Priority stats cover every tenant: only platform roles may read them');
      return priorityAdmission(gw).stats();
    });
  },
);
