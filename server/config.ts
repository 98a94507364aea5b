import { availableParallelism } from 'node:os';
import { parseEgressAllow, type EgressAllow } from './net/egress';
import { parsePortalSettings, type PortalSettings } from './portal/settings';
import { parseDataTlsSettings, type DataTlsSettings } from './net/tls-settings';
import { parsePrioritySettings, type PrioritySettings } from './priority/settings';
import { DEFAULT_PGLITE_THREAD, type PGliteThreadMode } from './store/dialects/dialect';
import { SHIPPED_PGLITE_IMAGE } from './store/pglite-image';

/** Settings from the environment (CONTRACT.md section 2). A bad value is a {@link ConfigError} naming the variable. */
export type Role = 'all' | 'control' | 'data';

export interface Config {
  host: string;
  adminPort: number;
  dataPort: number;
  role: Role;
  databaseUrl: string | undefined;
  /** PGlite directory, or `memory://` for a database that keeps nothing. */
  dataDir: string;
  /** What a new embedded database starts from (`PORTICO_PGLITE_IMAGE`): the shipped image, a file, or none (initdb). */
  pgliteImage: string | undefined;
  /** Where embedded PGlite runs (`PORTICO_PGLITE_THREAD`): a worker thread of its own, or the gateway's thread. */
  pgliteThread: PGliteThreadMode;
  adminToken: string | undefined;
  /** 32-byte AES-256-GCM key; undefined means "generate or load one in the data dir" (embedded mode only). */
  masterKey: Buffer | undefined;
  logLevel: string;
  /** Admin API requests a second per caller (bursts of twice that); 0 turns the limit off. */
  adminRateLimit: number;
  /** Bounds on waiting for PostgreSQL (PORTICO_DB_CONNECT_TIMEOUT_MS, PORTICO_DB_QUERY_TIMEOUT_MS). */
  dbConnectTimeoutMs: number;
  dbQueryTimeoutMs: number;
  /** How long a stop may take before what is unwritten goes to the spool and the process ends. */
  shutdownGraceMs: number;
  /** Records each batch writer keeps in memory while the database cannot take them. */
  bufferMaxRows: number;
  /** Bytes the spool under the data dir may hold, beyond the memory buffers. */
  spoolMaxBytes: number;
  /** What targets set by tenants may reach besides public addresses (`PORTICO_EGRESS_ALLOW`). */
  egressAllow: EgressAllow;
  /** Both ports: the longest a client may take to send a request's headers (0: no limit). */
  headersTimeoutMs: number;
  /** Both ports: the longest a client may take to send a whole request, headers and body (0: no limit). */
  requestTimeoutMs: number;
  /** A token that may read `/metrics` and nothing else (for a Prometheus scraper); unset: platform tokens only. */
  metricsToken: string | undefined;
  /** Priority admission: requests in flight per instance, and each tier's share (PORTICO_PRIORITY_*). */
  priority: PrioritySettings;
  /** The tenant portal `/api/*`: sign-up, sessions, login limits, mail (PORTICO_PORTAL_*, PORTICO_SMTP_URL). */
  portal: PortalSettings;
  /** Whether this node serves its admin API `/admin/*` (`PORTICO_NODE_ADMIN`, on by default); off: every path is 503. */
  nodeAdmin: boolean;
  /** Data plane HTTPS and client certificates (PORTICO_DATA_TLS_*). */
  dataTls: DataTlsSettings;
  /** Limits and quotas shared by every node (PORTICO_REDIS_*); undefined: each node counts its own. */
  redis: RedisSettings | undefined;
  /** Processes serving the data plane (`PORTICO_WORKERS`); 1: the one process serves everything, as before. */
  workers: number;
}

export interface RedisSettings {
  /** `redis://` or `rediss://` (TLS); it may hold a password, so it is never logged. */
  url: string;
  /** Requests a node may admit on one counter before Redis has confirmed them (the error bound's B). */
  batch: number;
  /** How often a node sends its counts and reads the shared ones. */
  flushMs: number;
  /** How long a node waits on Redis before it counts on its own. */
  timeoutMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535)
    throw new ConfigError(name, `must be a port number from 0 to 65535, got "${raw}"`);
  return n;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[1-9]\d{0,9}$/.test(raw)) throw new ConfigError(name, `must be a positive whole number, got "${raw}"`);
  return Number(raw);
}

function millis(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2_147_483_647) {
    throw new ConfigError(name, `must be a number of milliseconds (0 for no limit), got "${raw}"`);
  }
  return Number(raw);
}

/** Parses a 32-byte key given as base64 or hex. */
export function parseMasterKey(raw: string, variable = 'PORTICO_MASTER_KEY'): Buffer {
  const value = raw.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(value) && !/^[A-Za-z0-9+/_-]+={0,2}$/.test(value))) {
    throw new ConfigError(variable, 'must be 32 bytes encoded as base64 (44 characters) or hex (64 characters)');
  }
  return key;
}

/**
 * `PORTICO_WORKERS`: by default one data-plane process per core with PostgreSQL. The embedded PGlite lives in one
 * process (it holds its data directory alone, and a second process cannot open it), so there the default is 1 and
 * more is refused rather than quietly ignored. A control node serves no data plane: it has nothing for workers to do.
 */
function workerCount(env: NodeJS.ProcessEnv, databaseUrl: string | undefined, role: Role): number {
  const fallback = databaseUrl && role !== 'control' ? availableParallelism() : 1;
  const workers = positiveInt(env, 'PORTICO_WORKERS', fallback);
  if (workers > 1 && !databaseUrl) {
    const message = `${workers} workers need PostgreSQL (DATABASE_URL): the embedded database is opened by one process only; leave it unset or set 1`;
    throw new ConfigError('PORTICO_WORKERS', message);
  }
  if (workers > 1024) throw new ConfigError('PORTICO_WORKERS', `must be at most 1024, got "${workers}"`);
  return role === 'control' ? 1 : workers;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const role = (env.PORTICO_ROLE || 'all') as Role;
  if (!['all', 'control', 'data'].includes(role)) {
    throw new ConfigError('PORTICO_ROLE', `must be one of all, control, data, got "${role}"`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
  }
  const pgliteThread = (env.PORTICO_PGLITE_THREAD || DEFAULT_PGLITE_THREAD) as PGliteThreadMode;
  if (pgliteThread !== 'worker' && pgliteThread !== 'main') {
    throw new ConfigError('PORTICO_PGLITE_THREAD', `must be worker or main, got "${pgliteThread}"`);
  }
  const adminToken = env.PORTICO_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('PORTICO_ADMIN_TOKEN', 'must be at least 16 characters long');
  }
  const masterKey = env.PORTICO_MASTER_KEY ? parseMasterKey(env.PORTICO_MASTER_KEY) : undefined;
  if (databaseUrl && !masterKey) {
    throw new ConfigError(
      'PORTICO_MASTER_KEY',
      'is required with DATABASE_URL (32 bytes as base64 or hex; try `openssl rand -base64 32`)',
    );
  }
  const logLevel = env.PORTICO_LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('PORTICO_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const rawRate = env.PORTICO_ADMIN_RATE_LIMIT || '100';
  if (!/^\d+$/.test(rawRate) || Number(rawRate) > 1_000_000) {
    const message = `must be a whole number of requests per second from 0 (off) to 1000000, got "${rawRate}"`;
    throw new ConfigError('PORTICO_ADMIN_RATE_LIMIT', message);
  }
  let egressAllow: EgressAllow;
  try {
    egressAllow = parseEgressAllow(env.PORTICO_EGRESS_ALLOW);
  } catch (err) {
    throw new ConfigError(
      'PORTICO_EGRESS_ALLOW',
      `${(err as Error).message}; give comma-separated CIDRs or host names`,
    );
  }
  const headersTimeoutMs = millis(env, 'PORTICO_HEADERS_TIMEOUT_MS', 10_000);
  const requestTimeoutMs = millis(env, 'PORTICO_REQUEST_TIMEOUT_MS', 60_000);
  // node refuses a headers timeout longer than the whole request's
  if (requestTimeoutMs > 0 && (headersTimeoutMs === 0 || headersTimeoutMs > requestTimeoutMs)) {
    const message = `must be from 1 to PORTICO_REQUEST_TIMEOUT_MS (${requestTimeoutMs}) when that is set`;
    throw new ConfigError('PORTICO_HEADERS_TIMEOUT_MS', message);
  }
  const metricsToken = env.PORTICO_METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new ConfigError('PORTICO_METRICS_TOKEN', 'must be at least 16 characters long');
  }
  const nodeAdmin = env.PORTICO_NODE_ADMIN || 'on';
  if (nodeAdmin !== 'on' && nodeAdmin !== 'off') {
    throw new ConfigError('PORTICO_NODE_ADMIN', `must be on or off, got "${nodeAdmin}"`);
  }
  const redisUrl = env.PORTICO_REDIS_URL || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    throw new ConfigError('PORTICO_REDIS_URL', 'must be a redis:// or rediss:// URL');
  }
  const redis = redisUrl && {
    url: redisUrl,
    batch: positiveInt(env, 'PORTICO_REDIS_BATCH', 20),
    flushMs: positiveInt(env, 'PORTICO_REDIS_FLUSH_MS', 10),
    timeoutMs: positiveInt(env, 'PORTICO_REDIS_TIMEOUT_MS', 250),
  };
  return {
    workers: workerCount(env, databaseUrl, role),
    host: env.PORTICO_HOST || '127.0.0.1',
    adminPort: port(env, 'PORTICO_ADMIN_PORT', 8090),
    dataPort: port(env, 'PORTICO_DATA_PORT', 8080),
    role,
    databaseUrl,
    dataDir: env.PORTICO_DATA_DIR || './.data',
    pgliteImage: env.PORTICO_PGLITE_IMAGE === 'none' ? undefined : env.PORTICO_PGLITE_IMAGE || SHIPPED_PGLITE_IMAGE,
    pgliteThread,
    adminToken,
    masterKey,
    logLevel,
    adminRateLimit: Number(rawRate),
    dbConnectTimeoutMs: positiveInt(env, 'PORTICO_DB_CONNECT_TIMEOUT_MS', 5000),
    dbQueryTimeoutMs: positiveInt(env, 'PORTICO_DB_QUERY_TIMEOUT_MS', 5000),
    shutdownGraceMs: positiveInt(env, 'PORTICO_SHUTDOWN_GRACE_MS', 10_000),
    bufferMaxRows: positiveInt(env, 'PORTICO_BUFFER_MAX_ROWS', 50_000),
    spoolMaxBytes: positiveInt(env, 'PORTICO_SPOOL_MAX_MB', 100) * 1024 * 1024,
    egressAllow,
    headersTimeoutMs,
    requestTimeoutMs,
    metricsToken,
    priority: parsePrioritySettings(env, (variable, message) => {
      throw new ConfigError(variable, message);
    }),
    portal: parsePortalSettings(env, (variable, message) => {
      throw new ConfigError(variable, message);
    }),
    nodeAdmin: nodeAdmin === 'on',
    dataTls: parseDataTlsSettings(env, (variable, message) => {
      throw new ConfigError(variable, message);
    }),
    redis: redis || undefined,
  };
}
