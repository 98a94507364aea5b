import { join } from 'node:path';
import { LATE, within } from './lib/within';
import pino, { type Logger } from 'pino';
import { AuditLog } from './audit/audit-log';
import { loadConfig, type Config } from './config';
import { buildAdminApp } from './control/admin-app';
import { buildDataApp } from './data/data-app';
import { nodeAdminOnDataPort } from './node-admin/data-port';
import { adoptOrphanedSegments } from './data/spool-adoption';
import { Spool } from './data/spool';
import type { Gateway } from './gateway';
import { loadBootstrapToken, loadKeys } from './keys';
import { openDatabase } from './store/database';
import { followChanges, notifyChanges } from './store/change-notifier';
import { ConfigSnapshot } from './store/snapshot';
import { RESOURCES } from './resources';
import { WebhookDispatcher, type DispatcherOptions } from './webhooks/dispatcher';
import { enqueueDeliveries } from './webhooks/outbox';
import type { FastifyInstance } from 'fastify';
import { nodeHeartbeat } from './portal/readouts/node-heartbeat';
import { metricsRollupJob } from './portal/readouts/rollup-job';

/** What the data plane reads from memory: every kind whose definition does not opt out (admin tokens do). */
const SNAPSHOT_DEFINITIONS = RESOURCES.filter((r) => r.snapshot !== false);

export interface OpenGateway extends Gateway {
  /** The bootstrap token, only on the very first start without PORTICO_ADMIN_TOKEN. */
  bootstrapTokenShownOnce?: string;
  close(): Promise<void>;
}

/** Opens the database (migrating it), loads keys and the bootstrap token: everything but the HTTP servers. */
export interface GatewayOptions {
  /** Webhook delivery tuning; `false` runs no dispatcher here (data-only nodes). */
  webhooks?: DispatcherOptions | false;
  /** A migrated PGlite image a new embedded database starts from (see PGliteOptions.image), over the setting's. */
  pgliteImage?: Blob | string;
  /** Where this process spools records, over `<data dir>/spool` (each data-plane worker has its own). */
  spool?: { dir: string; maxBytes: number };
  /** Only this one of the planes `config.role` asks for (the primary and the workers of PORTICO_WORKERS). */
  only?: 'control' | 'data';
}

/** The gateway's log: JSON lines on stdout, credentials redacted. */
export function gatewayLogger(config: Config): Logger {
  // asynchronous stdout: lines written while a write is in flight go out together (pino flushes them at exit)
  return pino(
    { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] },
    pino.destination({ dest: 1, sync: false }),
  );
}

export async function openGateway(
  config: Config = loadConfig(),
  log: Logger = gatewayLogger(config),
  options: GatewayOptions = {},
): Promise<OpenGateway> {
  const timeouts = { connectMs: config.dbConnectTimeoutMs, queryMs: config.dbQueryTimeoutMs };
  const { databaseUrl, dataDir } = config;
  const pgliteImage = options.pgliteImage ?? config.pgliteImage;
  const database = await openDatabase({
    databaseUrl,
    dataDir,
    timeouts,
    pgliteImage,
    pgliteThread: config.pgliteThread,
  });
  try {
    // with PostgreSQL the data dir holds nothing else, but it is still where records wait out an outage
    const spoolDir = options.spool?.dir ?? (config.dataDir === 'memory://' ? undefined : join(config.dataDir, 'spool'));
    const servesData = config.role !== 'control' && options.only !== 'control';
    const adopted = spoolDir && servesData ? await adoptOrphanedSegments(spoolDir, config.workers) : 0;
    if (adopted) log.info({ segments: adopted, spool: spoolDir }, 'spool segments of an earlier worker layout adopted');
    const spool = spoolDir ? await Spool.open(spoolDir, options.spool?.maxBytes ?? config.spoolMaxBytes) : undefined;
    const keys = await loadKeys(config, database.db);
    const bootstrap = await loadBootstrapToken(config, database.db);
    const audit = new AuditLog(keys.auditSigningKey);
    await audit.ensureHead(database.db);
    audit.onAppend(notifyChanges);
    const runWebhooks = options.webhooks !== false && config.role !== 'data';
    const webhookOptions = { egressAllow: config.egressAllow, ...(options.webhooks || {}) };
    const dispatcher = new WebhookDispatcher(database.db, keys.masterKey, log, webhookOptions);
    audit.onAppend(enqueueDeliveries(() => runWebhooks && dispatcher.wake()));
    const onError = (err: unknown) => log.warn({ err }, 'configuration snapshot');
    const snapshot = new ConfigSnapshot(database.feedDb, SNAPSHOT_DEFINITIONS, onError);
    const unlisten = await followChanges(database, snapshot, onError);
    await snapshot.reload();
    if (runWebhooks) dispatcher.start();
    return {
      config,
      db: database.db,
      dialect: database.dialect,
      append: database.append,
      keys,
      audit,
      snapshot,
      bootstrapTokenHash: bootstrap.hash,
      bootstrapTokenShownOnce: bootstrap.shownOnce,
      log,
      spool,
      // the feed stops before the database closes, so no reload runs on a destroyed driver
      close: async () => {
        await dispatcher.stop();
        await unlisten();
        await snapshot.close();
        await database.close();
      },
    };
  } catch (err) {
    await database.close();
    throw err;
  }
}

export interface RunningServer {
  gateway: OpenGateway;
  admin?: FastifyInstance;
  data?: FastifyInstance;
  adminUrl?: string;
  dataUrl?: string;
  close(): Promise<void>;
}

/** Starts the planes `config.role` asks for, listening on their ports. */
export async function startServer(
  config: Config = loadConfig(),
  log?: Logger,
  options?: GatewayOptions,
): Promise<RunningServer> {
  const gateway = await openGateway(config, log, options);
  const server: RunningServer = {
    gateway,
    close: () => {
      const grace = config.shutdownGraceMs;
      // records flush until three quarters of the grace, then go to the spool (see closeWithin)
      if (server.data) server.data.dataPlane.stopBy = Date.now() + grace * 0.75;
      return closeWithin(grace, gateway.log, [server.admin, server.data], async () => {
        await Promise.all([server.admin?.close(), server.data?.close()]);
        await gateway.close();
      });
    },
  };
  try {
    if (config.role !== 'data' && options?.only !== 'data') {
      server.admin = buildAdminApp(gateway);
      server.admin.register(metricsRollupJob, { gw: gateway }); // portal metrics: roll-ups on control nodes
      server.adminUrl = await server.admin.listen({ host: config.host, port: config.adminPort });
    }
    if (config.role !== 'control' && options?.only !== 'control') {
      server.data = await buildDataApp(gateway);
      server.data.register(nodeHeartbeat, { gw: gateway }); // portal gateway-status: the node reports itself
      // a data node has no admin port: its node admin API (`/admin/*`) is served here
      if (config.role === 'data') server.data.register(nodeAdminOnDataPort, { gw: gateway });
      server.dataUrl = await server.data.listen({ host: config.host, port: config.dataPort });
    }
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

/**
 * Runs `stop`, bounded by the shutdown grace, since a database that went away must not hold a stop forever:
 * requests still open at half the grace are cut, the data plane's writers spool what they could not write by three
 * quarters, and this resolves at the grace whatever is still waiting.
 */
async function closeWithin(
  graceMs: number,
  log: OpenGateway['log'],
  apps: (FastifyInstance | undefined)[],
  stop: () => Promise<void>,
): Promise<void> {
  const cut = setTimeout(() => apps.forEach((app) => app?.server.closeAllConnections()), graceMs / 2).unref();
  try {
    if ((await within(stop(), graceMs)) === LATE)
      log.warn({ graceMs }, 'shutdown grace ran out; stopping without waiting further');
  } finally {
    clearTimeout(cut);
  }
}
