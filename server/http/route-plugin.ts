import type { FastifyPluginAsync, FastifyPluginOptions, RawServerDefault } from 'fastify';
import fp from 'fastify-plugin';
import type { ZodTypeProvider } from './route-schemas';

/** Routes whose `request.query`, `params` and `body` are typed by their zod schemas. */
export type RoutesPlugin<O extends FastifyPluginOptions> = FastifyPluginAsync<O, RawServerDefault, ZodTypeProvider>;

/**
 * A file of routes as an encapsulated plugin with a name, and the plugins that must be registered before it (in the
 * same context or above): registering it anywhere else fails at start-up instead of serving an unguarded route.
 */
export function routePlugin<O extends FastifyPluginOptions>(
  name: string,
  dependencies: string[],
  routes: RoutesPlugin<O>,
): RoutesPlugin<O> {
  return fp(routes, { name, dependencies, encapsulate: true });
}
