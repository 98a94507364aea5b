import { z } from 'zod';
import { ApiError } from './errors';
import type { Gateway } from './gateway';
import { routePlugin } from './http/route-plugin';
import { textResponse, ZOD_SCHEMAS } from './http/route-schemas';
import { hashToken, safeEqual } from './lib/secrets';
import { authenticate, bearerToken } from './control/authenticate';
import { nodeMetrics } from './data/metrics';
import { PLATFORM_ROLES, type AdminRole } from './resources/token';

/**
 * `GET /metrics` (Prometheus text): the data plane's metrics, whose labels name tenants and upstreams, so only the
 * platform may read them: a platform-role admin token, or `PORTICO_METRICS_TOKEN` (a scraper's token, good for
 * nothing else). Served on the admin port; a data-only node, which has none, serves it on its data port.
 */
export const metricsRoute = routePlugin<{ gw: Gateway }>(
  'portico-metrics-route',
  [ZOD_SCHEMAS],
  async (app, { gw }) => {
    const scraperHash = gw.config.metricsToken ? hashToken(gw.config.metricsToken) : undefined;
    const summary = 'Prometheus metrics (platform roles or PORTICO_METRICS_TOKEN)';
    const response = { 200: textResponse('text/plain', z.string()) };
    app.get('/metrics', { schema: { summary, tags: ['Health'], response } }, async (request, reply) => {
      const token = bearerToken(request.headers.authorization);
      if (!token) throw new ApiError('UNAUTHORIZED', 'Missing Authorization: Bearer <token> header');
      if (!scraperHash || !safeEqual(hashToken(token), scraperHash)) {
        const caller = await authenticate(gw, token);
        if (!caller) throw new ApiError('UNAUTHORIZED', 'The bearer token is not valid, revoked or expired');
        if (!(PLATFORM_ROLES as readonly AdminRole[]).includes(caller.role)) {
          throw new ApiError('FORBIDDEN', 'Metrics name every tenant: only platform roles may read them');
        }
      }
      const text = await nodeMetrics(gw);
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
    });
  },
);
