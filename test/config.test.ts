import { SHIPPED_PGLITE_IMAGE } from '../server/store/pglite-image';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, loadConfig, parseMasterKey } from '../server/config';

const run = promisify(execFile);
const cli = join(__dirname, '..', 'cli', 'portico.js');

describe('settings', () => {
  test("PORTICO_PGLITE_IMAGE: the shipped image by default, a file of the operator's, or none (initdb)", () => {
    expect(loadConfig({}).pgliteImage).toBe(SHIPPED_PGLITE_IMAGE);
    expect(loadConfig({ PORTICO_PGLITE_IMAGE: '/srv/images/portico.tar.gz' }).pgliteImage).toBe(
      '/srv/images/portico.tar.gz',
    );
    expect(loadConfig({ PORTICO_PGLITE_IMAGE: 'none' }).pgliteImage).toBeUndefined();
  });

  test('PORTICO_PGLITE_THREAD: PGlite in a worker thread by default, in the gateway thread on asking; nothing else', () => {
    expect(loadConfig({}).pgliteThread).toBe('worker');
    expect(loadConfig({ PORTICO_PGLITE_THREAD: 'main' }).pgliteThread).toBe('main');
    expect(() => loadConfig({ PORTICO_PGLITE_THREAD: 'thread' })).toThrow(
      new ConfigError('PORTICO_PGLITE_THREAD', 'must be worker or main, got "thread"'),
    );
  });

  test('defaults match the contract', () => {
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      adminPort: 8090,
      dataPort: 8080,
      role: 'all',
      databaseUrl: undefined,
      dataDir: './.data',
      adminToken: undefined,
      masterKey: undefined,
      logLevel: 'info',
      adminRateLimit: 100,
      dbConnectTimeoutMs: 5000,
      dbQueryTimeoutMs: 5000,
      shutdownGraceMs: 10_000,
      bufferMaxRows: 50_000,
      spoolMaxBytes: 100 * 1024 * 1024,
      egressAllow: expect.objectContaining({ text: '', cidrs: [] }),
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      metricsToken: undefined,
      nodeAdmin: true,
      pgliteImage: SHIPPED_PGLITE_IMAGE,
      pgliteThread: 'worker',
      portal: {
        limits: {
          loginPerEmail: 10,
          loginPerAddress: 50,
          registerPerAddress: 20,
          forgotPerEmail: 5,
          forgotPerAddress: 20,
        },
        limitWindowSecs: 900,
        mailFrom: 'Portico <no-reply@portico.local>',
        publicUrl: undefined,
        resetTtlSecs: 1800,
        signup: true,
        smtpUrl: undefined,
        tokenTtlSecs: 3600,
      },
      priority: {
        maxConcurrent: 1000,
        tiers: [
          { name: 'premium', thresholdPct: 100 },
          { name: 'standard', thresholdPct: 80 },
          { name: 'bulk', thresholdPct: 50 },
        ],
        defaultTier: 'standard',
      },
      dataTls: { requireClientCert: false, trustedProxies: [], certHeader: 'x-client-cert' },
      workers: 1,
    });
  });

  test('the admin rate limit is a whole number of requests a second per caller; 0 turns it off', () => {
    expect(loadConfig({ PORTICO_ADMIN_RATE_LIMIT: '5' }).adminRateLimit).toBe(5);
    expect(loadConfig({ PORTICO_ADMIN_RATE_LIMIT: '0' }).adminRateLimit).toBe(0);
  });

  test('the master key is 32 bytes as base64 or hex', () => {
    expect(parseMasterKey('ab'.repeat(32))).toHaveLength(32);
    expect(parseMasterKey(Buffer.alloc(32, 7).toString('base64'))).toEqual(Buffer.alloc(32, 7));
    expect(() => parseMasterKey('short')).toThrow(ConfigError);
    expect(() => parseMasterKey(Buffer.alloc(31).toString('base64'))).toThrow(/32 bytes/);
  });

  test.each([
    [{ PORTICO_ADMIN_PORT: '80a' }, 'PORTICO_ADMIN_PORT'],
    [{ PORTICO_DATA_PORT: '70000' }, 'PORTICO_DATA_PORT'],
    [{ PORTICO_ROLE: 'both' }, 'PORTICO_ROLE'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://localhost/x' }, 'PORTICO_MASTER_KEY'],
    [{ PORTICO_ADMIN_TOKEN: 'short' }, 'PORTICO_ADMIN_TOKEN'],
    [{ PORTICO_EGRESS_ALLOW: '10.0.0.0/40' }, 'PORTICO_EGRESS_ALLOW'],
    [{ PORTICO_MASTER_KEY: 'nope' }, 'PORTICO_MASTER_KEY'],
    [{ PORTICO_LOG_LEVEL: 'loud' }, 'PORTICO_LOG_LEVEL'],
    [{ PORTICO_ADMIN_RATE_LIMIT: '-1' }, 'PORTICO_ADMIN_RATE_LIMIT'],
    [{ PORTICO_ADMIN_RATE_LIMIT: '2.5' }, 'PORTICO_ADMIN_RATE_LIMIT'],
    [{ PORTICO_ADMIN_RATE_LIMIT: 'fast' }, 'PORTICO_ADMIN_RATE_LIMIT'],
    [{ PORTICO_REQUEST_TIMEOUT_MS: '1.5' }, 'PORTICO_REQUEST_TIMEOUT_MS'],
    [{ PORTICO_HEADERS_TIMEOUT_MS: '-1' }, 'PORTICO_HEADERS_TIMEOUT_MS'],
    [{ PORTICO_REQUEST_TIMEOUT_MS: '5000', PORTICO_HEADERS_TIMEOUT_MS: '6000' }, 'PORTICO_HEADERS_TIMEOUT_MS'],
    [{ PORTICO_METRICS_TOKEN: 'short' }, 'PORTICO_METRICS_TOKEN'],
  ])('%j is refused naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as ConfigError).variable).toBe(variable);
    }
  });

  test('a bad setting stops `portico serve` with one clear line and no stack trace', async () => {
    const failure = await run('node', [cli, 'serve'], { env: { ...process.env, PORTICO_ADMIN_PORT: 'eighty' } }).catch(
      (e) => e,
    );
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim()).toBe(
      'portico: bad setting PORTICO_ADMIN_PORT: must be a port number from 0 to 65535, got "eighty"',
    );
    expect(failure.stdout).toBe('');
  });
});
