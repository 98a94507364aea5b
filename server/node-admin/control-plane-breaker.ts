import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import { CircuitBreakers, type CircuitStats } from '../data/circuit-breaker';
import { isDatabaseUnavailable } from '../store/database-errors';

/** The seed's name for a node's breaker towards its control plane; here that is the database every node reads. */
export const CONTROL_PLANE_BREAKER = 'cp-api-breaker';

/** Five failures in a row open it; after 30 s one trial call may go through. */
const SETTINGS = { failure_threshold: 5, cooldown_ms: 30_000 };

/**
 * The node's breaker towards its control plane. A Portico node's control plane is its database (configuration, tokens,
 * audit): the database work of the node admin API runs through this breaker, so once the database has failed five
 * times in a row, further calls fail fast (503 `DATABASE_UNAVAILABLE`) instead of each waiting out the query timeout.
 * Only an unavailable database counts as a failure; any answer (a 404, a 409) is a success.
 */
export class ControlPlaneBreaker {
  private readonly breakers = new CircuitBreakers();

  async run<T>(work: () => Promise<T>): Promise<T> {
    const permit = this.breakers.acquire(CONTROL_PLANE_BREAKER, SETTINGS);
    if (!permit.ok) {
      const retry = String(Math.max(1, Math.ceil(permit.retryAfterMs / 1000)));
      const message = `The database failed repeatedly; its circuit is open, retry in ${retry} s`;
      throw new ApiError('DATABASE_UNAVAILABLE', message).withHeaders({ 'retry-after': retry });
    }
    try {
      const result = await work();
      this.breakers.success(CONTROL_PLANE_BREAKER);
      return result;
    } catch (err) {
      if (isDatabaseUnavailable(err)) this.breakers.failure(CONTROL_PLANE_BREAKER, SETTINGS);
      else this.breakers.success(CONTROL_PLANE_BREAKER);
      throw err;
    }
  }

  stats(): CircuitStats {
    const seen = this.breakers.stats()[0];
    return (
      seen ?? {
        name: CONTROL_PLANE_BREAKER,
        state: 'closed',
        success_count: 0,
        failure_count: 0,
        consecutive_failures: 0,
        open_count: 0,
        rejected_count: 0,
      }
    );
  }

  reset(): void {
    this.breakers.reset(CONTROL_PLANE_BREAKER);
  }
}

const byGateway = new WeakMap<Gateway, ControlPlaneBreaker>();

/** The node's breaker, one per gateway (a node), shared by the ports that serve its admin API. */
export function controlPlaneBreakerOf(gw: Gateway): ControlPlaneBreaker {
  let b = byGateway.get(gw);
  if (!b) byGateway.set(gw, (b = new ControlPlaneBreaker()));
  return b;
}
