import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors';
import type { Gateway } from './gateway';
import { hashToken, safeEqual } from './lib/secrets';
import { authenticate, bearerToken } from './control/authenticate';
import { metricSources } from './data/metrics';
import { PLATFORM_ROLES, type AdminRole } from './resources/token';

/**
 * `GET /metrics` (Prometheus text): the data plane's metrics, whose labels name tenants and upstreams, so only the
 * platform may read them: a platform-role admin token, or `PORTICO_METRICS_TOKEN` (a scraper's token, good for
 * nothing else). Served on the admin port; a data-only node, which has none, serves it on its data port.
 */
export function registerMetricsRoute(app: FastifyInstance, gw: Gateway): void {
  const scraperHash = gw.config.metricsToken ? hashToken(gw.config.metricsToken) : undefined;
  const summary = 'Prometheus metrics (platform roles or PORTICO_METRICS_TOKEN)';
  const openapi = { tag: 'Health', summary, responses: { 200: 'text' as const } };
  app.get('/metrics', { config: { openapi } }, async (request, reply) => {
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new ApiError('UNAUTHORIZED', 'Missing Authorization: Bearer <token> header');
    if (!scraperHash || !safeEqual(hashToken(token), scraperHash)) {
      const caller = await authenticate(gw, token);
      if (!caller) throw new ApiError('UNAUTHORIZED', 'The bearer token is not valid, revoked or expired');
      if (!(PLATFORM_ROLES as readonly AdminRole[]).includes(caller.role)) {
        throw new ApiError('FORBIDDEN', 'Metrics name every tenant: only platform roles may read them');
      }
    }
    const text = [...metricSources(gw)].map((s) => s.render()).join('');
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });
}
