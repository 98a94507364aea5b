import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { startServer, type RunningServer } from '../app';
import type { Config } from '../config';
import { RedisCounts } from '../data/counter-store-redis';
import { keepCountsFor } from '../data/data-plane';
import { RateLimiter } from '../data/limiter';
import { metricSources } from '../data/metrics';
import { askWorker, serveWorker, type Handlers } from './channel';
import { mergeWorkerMetrics } from './metrics';
import { primaryCounts } from './primary-counts';
import { WORKER_INDEX, type LifeMessage } from './worker';

/** Restarts of crashed workers allowed within a minute before the node gives up and stops. */
const RESTARTS_PER_MINUTE = 10;
const RESTART_DELAY_MS = 200;

/**
 * The primary of PORTICO_WORKERS > 1: the control plane once (admin app, webhooks, roll-ups; the database migrated
 * before any worker starts), and `config.workers` data-plane workers forked with node:cluster, which share the data
 * port. Node 20 has no `reusePort`; on Linux cluster's default scheduling has the primary accept each connection and
 * hand it to the workers in turn, which spreads keep-alive connections evenly (letting the kernel wake whichever
 * worker waits tends to load one worker). Without Redis the primary keeps the workers' limit counts. A worker that
 * dies is replaced (at most {@link RESTARTS_PER_MINUTE} a minute, then the node stops, `failed` says why).
 */
export async function startPrimary(config: Config, failed: (err: Error) => void): Promise<RunningServer> {
  const server = await startServer(config, undefined, { only: 'control' });
  const log = server.gateway.log;
  const workers = new Map<number, Worker>();
  // what a worker knows of a counter that was reset is stale: each forgets it and reads it afresh
  const forget = (keys: string[]) => {
    for (const w of workers.values()) if (w.isConnected()) w.send({ portico: 'forget', keys } satisfies LifeMessage);
  };
  const counts = config.redis ? undefined : primaryCounts(forget);
  const handlers: Handlers = counts?.handlers ?? {};
  // the node admin API here reads and resets the counts the workers share: the primary's, or Redis's
  const store = counts?.store ?? new RedisCounts(config.redis!);
  if (!counts) await store.start();
  keepCountsFor(server.gateway, new RateLimiter([], store));
  // the admin port's /metrics: every worker's data plane, as one node's (a worker that does not answer is left out)
  const gather = () =>
    Promise.all(
      [...workers].map(([i, w]) =>
        askWorker<string>(w, 'metrics').then(
          (text): [number, string] => [i, text],
          (): [number, string] => [i, ''],
        ),
      ),
    );
  const nodeMetrics = async () => mergeWorkerMetrics(await gather());
  metricSources(server.gateway).add({ render: nodeMetrics });
  handlers.metrics = nodeMetrics; // a data node's workers serve /metrics on the data port: any of them asks here
  const restarts: number[] = [];
  let stopping = false;
  let serving = false; // a worker that fails while the node starts fails the start instead

  /** Forks worker `index` and resolves with its data URL once it serves; rejects if it exits first. */
  const fork = (index: number): Promise<string> => {
    const worker = cluster.fork({ [WORKER_INDEX]: String(index) });
    workers.set(index, worker);
    serveWorker(worker, handlers);
    const ready = new Promise<string>((resolve, reject) => {
      worker.on('message', (m: LifeMessage) => m?.portico === 'ready' && resolve(m.url));
      worker.once('exit', (code, signal) =>
        reject(new Error(`worker ${index} exited (${signal ?? code}) before serving`)),
      );
    });
    worker.once('exit', (code, signal) => {
      if (workers.get(index) === worker) workers.delete(index);
      if (!stopping && serving) replace(index, code, signal);
    });
    void ready.then(
      () => log.info({ worker: index, workerPid: worker.process.pid }, 'worker serving'),
      () => {},
    );
    return ready;
  };

  const replace = (index: number, code: number, signal: string | null) => {
    const now = Date.now();
    restarts.push(now);
    while (restarts[0]! < now - 60_000) restarts.shift();
    if (restarts.length > RESTARTS_PER_MINUTE) {
      log.error({ worker: index, code, signal }, 'workers keep dying; stopping the node');
      failed(new Error(`${restarts.length} worker restarts within a minute`));
      return;
    }
    log.warn({ worker: index, code, signal }, 'worker exited; starting another');
    setTimeout(() => {
      if (!stopping) fork(index).catch((err) => log.error({ err, worker: index }, 'replacement worker failed'));
    }, RESTART_DELAY_MS).unref();
  };

  /** Asks every worker to stop (each within its grace), waits for them, then stops the primary's planes. */
  const close = async () => {
    stopping = true;
    const exits = [...workers.values()].map(async (w) => {
      if (w.isDead()) return;
      const exited = once(w, 'exit');
      if (w.isConnected()) w.send({ portico: 'stop' } satisfies LifeMessage);
      const kill = setTimeout(() => w.process.kill('SIGKILL'), config.shutdownGraceMs + 2000);
      await exited;
      clearTimeout(kill);
    });
    await Promise.all(exits);
    await server.close();
    await store.stop();
  };

  try {
    const urls = await Promise.all(Array.from({ length: config.workers }, (_, i) => fork(i + 1)));
    server.dataUrl = urls[0];
    serving = true;
  } catch (err) {
    await close();
    throw err;
  }
  return { ...server, close };
}
