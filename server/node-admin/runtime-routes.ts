import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { callContext } from '../control/request-state';
import type { ResourceService } from '../control/resource-service';
import type { CircuitStats } from '../data/circuit-breaker';
import { dataPlaneOf } from '../data/data-plane';
import { keyHashCache } from '../data/key-auth';
import { sessionsOf } from '../mcp/sessions';
import { route } from '../resources/route';
import type { ControlPlaneBreaker } from './control-plane-breaker';
import { breakerStats, cacheStats, done, health, nameParams, sessionStats } from './schemas';

/** The seed writes `half_open` where the breakers say `half-open`. */
const seedStats = (s: CircuitStats) => ({ ...s, state: s.state === 'half-open' ? ('half_open' as const) : s.state });

/**
 * This node's own state, which no other node shares: its counts of what it serves, its breakers (towards the control
 * plane, and one per upstream circuit of its data plane), its key-validation cache and its MCP sessions. Resets act
 * on this node only. Reading needs any platform role; a reset needs write access to routes (owner, policy-admin).
 */
export const runtimeRoutes = routePlugin<{
  gw: Gateway;
  service: ResourceService;
  breaker: ControlPlaneBreaker;
  version: string;
}>('portico-node-admin-runtime', [ZOD_SCHEMAS], async (app, { gw, service, breaker, version }) => {
  const mayReset = (req: Parameters<typeof callContext>[0]) =>
    service.scope.authorize(callContext(req), route, 'write');

  app.get(
    '/health',
    { schema: { summary: 'Node status and what it serves', tags: ['Health'], response: { 200: health } } },
    async () => ({
      status: 'ok' as const,
      version,
      routes_count: gw.snapshot.all('route').filter((r) => r.path_prefix !== null).length,
      policies_count: gw.snapshot.all('policy').length,
    }),
  );

  const tags = ['Circuit breakers'];
  app.get(
    '/circuit-breaker/stats',
    {
      schema: { summary: 'The breaker towards the control plane (database)', tags, response: { 200: breakerStats } },
    },
    async () => seedStats(breaker.stats()),
  );

  app.post(
    '/circuit-breaker/reset',
    { schema: { summary: 'Close the control-plane breaker', tags, response: { 200: done } } },
    async (req) => {
      mayReset(req);
      breaker.reset();
      return { status: 'ok' as const, message: 'Circuit breaker reset to closed' };
    },
  );

  app.get(
    '/circuit-breakers',
    {
      schema: {
        summary: "Per-upstream breakers of this node's data plane (one per route circuit)",
        tags,
        response: { 200: breakerStats.array() },
      },
    },
    async () => (dataPlaneOf(gw)?.breakers.stats() ?? []).map(seedStats),
  );

  app.post(
    '/circuit-breakers/:name/reset',
    {
      schema: {
        summary: 'Close one upstream breaker (404 for an unknown name)',
        tags,
        params: nameParams,
        response: { 200: done },
      },
    },
    async (req) => {
      mayReset(req);
      const { name } = req.params;
      if (!dataPlaneOf(gw)?.breakers.reset(name))
        throw new ApiError('NOT_FOUND', `Circuit breaker "${name}" not found on this node`);
      return { status: 'ok' as const, message: `Circuit breaker '${name}' reset to closed` };
    },
  );

  app.get(
    '/cache/stats',
    { schema: { summary: 'The API key validation cache', tags: ['Cache'], response: { 200: cacheStats } } },
    async () => {
      const { hits, misses, entry_count } = keyHashCache.stats();
      const lookups = hits + misses;
      return { hits, misses, entry_count, hit_rate: lookups ? Math.round((hits / lookups) * 1000) / 1000 : 0 };
    },
  );

  app.post(
    '/cache/clear',
    { schema: { summary: 'Clear the API key validation cache', tags: ['Cache'], response: { 200: done } } },
    async (req) => {
      mayReset(req);
      keyHashCache.clear();
      return { status: 'ok' as const, message: 'Cache cleared' };
    },
  );

  app.get(
    '/sessions/stats',
    { schema: { summary: 'MCP sessions of this node', tags: ['Sessions'], response: { 200: sessionStats } } },
    async () => sessionsOf(gw).summary(),
  );
});
