import type { Gateway } from '../gateway';
import type { PriorityAdmission } from '../priority/admission';
import { redisInFlight, shareInFlight } from '../priority/shared-in-flight';
import { primaryChannel } from '../cluster/channel';
import { MemoryCounts, type CounterStore } from './counter-store';
import { ClusterCounts, WORKER_FLUSH_MS } from './counter-store-cluster';
import { RedisCounts } from './counter-store-redis';
import { Gauge, type DataPlaneMetrics } from './metrics';

/**
 * Where a data plane counts its limits: in memory (each node its own; in a worker, its primary's for all the node's
 * workers) or, with PORTICO_REDIS_URL, in Redis for every node and worker, with a warning when Redis goes away, a
 * line when it is back, and `portico_redis_up` in the metrics.
 */
export function limitCounts(gw: Gateway, metrics: DataPlaneMetrics): CounterStore {
  const settings = gw.config.redis;
  const primary = primaryChannel();
  if (!settings && primary) {
    return new ClusterCounts(primary, gw.config.workers, (err) =>
      gw.log.warn({ err }, 'limit counts not confirmed by the primary'),
    );
  }
  if (!settings) return new MemoryCounts();
  const store = new RedisCounts(settings, (up, reason) => {
    if (up) gw.log.info('Redis answers: rate limits and quotas are shared by every node again');
    else
      gw.log.warn({ reason }, 'Redis is unavailable: rate limits and quotas count on this node alone until it is back');
  });
  const help = 'Whether limits and quotas are counted in Redis for every node (1) or on this node alone (0).';
  metrics.addGauge(new Gauge('portico_redis_up', help, [], () => [[[], store.up ? 1 : 0]]));
  return store;
}

/**
 * With Redis, priority admission counts the requests in flight on every instance; in a worker without it, on every
 * worker of the node (through the primary). The function stops sharing.
 */
export function sharedPriority(gw: Gateway, store: CounterStore, admission: PriorityAdmission): () => void {
  const settings = gw.config.redis;
  if (admission.settings.maxConcurrent === 0) return () => {};
  if (settings && store instanceof RedisCounts) return shareInFlight(redisInFlight(store), admission, settings.flushMs);
  if (store instanceof ClusterCounts)
    return shareInFlight(store.othersInFlight.bind(store), admission, WORKER_FLUSH_MS);
  return () => {};
}
