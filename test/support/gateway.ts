import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { openGateway, type GatewayOptions, type OpenGateway } from '../../server/app';
import { loadConfig } from '../../server/config';
import { buildAdminApp } from '../../server/control/admin-app';
import { createPostgresDatabase, pgliteThreadEnv, type TestDialect } from './databases';
import { MockHttp } from './mock-http';
import { testPgliteImage } from './pglite-image';

export const OWNER_TOKEN = 'test-owner-token-0123456789';

export interface TestGateway {
  dialect: TestDialect;
  gateway: OpenGateway;
  admin: FastifyInstance;
  /** A request to the admin API through inject (no socket); the owner token unless another is given. */
  api(
    method: string,
    url: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; body: any; headers: Record<string, unknown>; text: string }>;
  close(): Promise<void>;
}

/** Loopback, where the mock backends of most suites listen; the egress suite passes `''` to allow nothing. */
export const LOOPBACK_EGRESS = '127.0.0.0/8,::1';

/**
 * Starts a gateway on a new database of the given dialect (or on the one `env.DATABASE_URL` names), holding nothing but
 * the schema: it starts from the run's migrated image or template (test/support/global-setup.ts). Tenants'
 * targets may reach loopback unless `env.PORTICO_EGRESS_ALLOW` says otherwise, and the admin rate limit is off (a
 * suite fires hundreds of calls a second; test/admin-rate-limit.test.ts sets its own) unless `env` sets one.
 */
export async function startTestGateway(
  dialect: TestDialect,
  env: Record<string, string> = {},
  options: GatewayOptions & { log?: pino.Logger } = {},
): Promise<TestGateway> {
  const pg = dialect === 'postgres' && !env.DATABASE_URL ? await createPostgresDatabase('migrated') : undefined;
  const config = loadConfig({
    PORTICO_DATA_DIR: 'memory://',
    PORTICO_ADMIN_TOKEN: OWNER_TOKEN,
    PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
    PORTICO_EGRESS_ALLOW: LOOPBACK_EGRESS,
    PORTICO_ADMIN_RATE_LIMIT: '0',
    ...pgliteThreadEnv(),
    ...(pg ? { DATABASE_URL: pg.url } : {}),
    ...env,
  });
  const gateway = await openGateway(config, options.log ?? pino({ level: 'silent' }), {
    pgliteImage: testPgliteImage(),
    ...options,
  });
  const admin = buildAdminApp(gateway);
  await admin.ready();
  return {
    dialect,
    gateway,
    admin,
    async api(method, url, body, token = OWNER_TOKEN) {
      const res = await admin.inject({
        method: method as never,
        url,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      let parsed: unknown;
      try {
        parsed = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, body: parsed, headers: res.headers, text: res.body };
    },
    async close() {
      await admin.close();
      await gateway.close();
      await pg?.drop();
    },
  };
}

/** The data plane of a test gateway, listening on a loopback port. */
export async function startDataPlane(
  t: TestGateway,
): Promise<{ app: FastifyInstance; url: string; close(): Promise<void> }> {
  const { buildDataApp } = await import('../../server/data/data-app');
  const app = await buildDataApp(t.gateway);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, close: () => app.close() };
}

export type TestDataPlane = Awaited<ReturnType<typeof startDataPlane>>;

/** What a proxy test runs against: a gateway, a mock HTTP backend, and the data plane in front of it. */
export interface ProxyBed {
  t: TestGateway;
  backend: MockHttp;
  backendUrl: string;
  data: TestDataPlane;
}

export async function startProxyBed(
  dialect: TestDialect,
  env: Record<string, string> = {},
  options: GatewayOptions & { log?: pino.Logger } = {},
): Promise<ProxyBed> {
  const t = await startTestGateway(dialect, env, options);
  const backend = new MockHttp();
  const backendUrl = await backend.start();
  return { t, backend, backendUrl, data: await startDataPlane(t) };
}

/** Stops what {@link startProxyBed} started (whatever of it did start), the data plane first. */
export async function stopProxyBed({ t, backend, data }: Partial<ProxyBed>): Promise<void> {
  await data?.close();
  await backend?.stop();
  await t?.close();
}

/** Waits until `check` holds (a snapshot change has arrived), for at most `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
