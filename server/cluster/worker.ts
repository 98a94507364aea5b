import cluster from 'node:cluster';
import { join } from 'node:path';
import { gatewayLogger, startServer } from '../app';
import type { Config } from '../config';
import { gatherMetricsWith, ownMetrics } from '../data/metrics';
import { primaryChannel, servePrimary } from './channel';

/** The environment variable that tells a forked process it is data-plane worker number N (1-based, kept on restart). */
export const WORKER_INDEX = 'PORTICO_WORKER_INDEX';

/** Whether this process is a Portico data-plane worker forked by a primary. */
export const isWorkerProcess = () => cluster.isWorker && Boolean(process.env[WORKER_INDEX]);

/** Messages between the primary and a worker: its life, and counters reset (calls have theirs, channel.ts). */
export type LifeMessage =
  { portico: 'ready'; url: string } | { portico: 'stop' } | { portico: 'forget'; keys: string[] };

/**
 * A data-plane worker: the data app alone, on the port every worker shares, with its own database pool, its own
 * snapshot following the change feed, its own spool directory and its own node heartbeat (each snapshot follows the
 * feed by itself, so each worker reports the version it holds). It stops gracefully on a signal, on its primary's
 * word, or when its primary has gone; a second signal ends it at once.
 */
export async function runWorker(config: Config): Promise<void> {
  const index = Number(process.env[WORKER_INDEX]);
  const log = gatewayLogger(config).child({ worker: index });
  // each worker may spool its share of the node's allowance
  const spool =
    config.dataDir === 'memory://'
      ? undefined
      : {
          dir: join(config.dataDir, 'spool', `worker-${index}`),
          maxBytes: Math.floor(config.spoolMaxBytes / config.workers),
        };
  const server = await startServer(config, log, { webhooks: false, only: 'data', spool });
  // which worker answered, for tests and operators (an index, nothing more)
  server.data!.server.prependListener('request', (_req, res) => res.setHeader('x-portico-worker', String(index)));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), config.shutdownGraceMs + 2000).unref();
    await server.close().catch((err) => log.error({ err }, 'worker stop failed'));
    (log as unknown as { flush?: () => void }).flush?.();
    process.exit(0);
  };
  const onSignal = () => (stopping ? process.exit(1) : void stop());
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('message', (m: LifeMessage) => m?.portico === 'stop' && void stop());
  process.on('disconnect', () => void stop()); // the primary has gone
  // the primary gathers every worker's metrics for the node's /metrics (server/cluster/metrics.ts); on a data node,
  // which has no admin port, the scrape reaches one worker on the data port, which asks the primary for them all
  servePrimary({ metrics: () => ownMetrics(server.gateway) });
  const channel = primaryChannel();
  if (config.role === 'data' && channel)
    gatherMetricsWith(server.gateway, () =>
      // longer than the primary waits for a worker that does not answer (it then leaves that one out)
      channel.call<string>('metrics', {}, 4000),
    );
  process.send?.({ portico: 'ready', url: server.dataUrl! } satisfies LifeMessage);
}
