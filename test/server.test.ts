import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openGateway, startServer, type RunningServer } from '../server/app';
import { loadConfig } from '../server/config';
import { buildAdminApp } from '../server/control/admin-app';
import { openDatabase } from '../server/store/database';
import { MIGRATIONS } from '../server/store/migrate';
import { createPostgresDatabase, testDialects } from './support/databases';

const silent = pino({ level: 'silent' });

describe('embedded start (PGlite data dir)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-'));
  const env = { PORTICO_DATA_DIR: dir, PORTICO_ADMIN_PORT: '0', PORTICO_DATA_PORT: '0' };
  let server: RunningServer | undefined;
  afterEach(() => server?.close());

  test('first start makes an owner token shown once, kept as a hash, written 0600; both planes answer on loopback', async () => {
    server = await startServer(loadConfig(env), silent);
    const token = server.gateway.bootstrapTokenShownOnce!;
    expect(token).toMatch(/^ptc_pat_/);
    expect(readFileSync(join(dir, 'admin-token'), 'utf8').trim()).toBe(token);
    expect(statSync(join(dir, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'master-key')).mode & 0o777).toBe(0o600);
    const settings = await server.gateway.db.selectFrom('settings').selectAll().execute();
    expect(JSON.stringify(settings)).not.toContain(token);

    expect(await (await fetch(`${server.adminUrl}/health/live`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${server.dataUrl}/health/ready`)).json()).toEqual({ status: 'ready' });
    const tenants = await fetch(`${server.adminUrl}/v1/admin/tenants`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(tenants.status).toBe(200);
    const noRoute = await fetch(`${server.dataUrl}/v1/nothing`);
    expect(noRoute.status).toBe(404);
    expect(((await noRoute.json()) as any).error).toMatchObject({
      type: 'invalid_request_error',
      code: 'route_not_found',
    });
  });

  test('a restart keeps the token and the data, and shows nothing again', async () => {
    const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
    server = await startServer(loadConfig(env), silent);
    expect(server.gateway.bootstrapTokenShownOnce).toBeUndefined();
    const res = await fetch(`${server.adminUrl}/v1/admin/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'kept', name: 'Kept' }),
    });
    expect(res.status).toBe(201);
    await server.close();
    server = await startServer(loadConfig(env), silent);
    const again = await fetch(`${server.adminUrl}/v1/admin/tenants/kept`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await again.json()) as any).name).toBe('Kept');
  });

  test('PORTICO_ROLE=control and =data start only their plane', async () => {
    server = await startServer(loadConfig({ ...env, PORTICO_ROLE: 'control' }), silent);
    expect(server.adminUrl).toBeDefined();
    expect(server.dataUrl).toBeUndefined();
    await server.close();
    server = await startServer(loadConfig({ ...env, PORTICO_ROLE: 'data' }), silent);
    expect(server.adminUrl).toBeUndefined();
    expect((await fetch(`${server.dataUrl}/health/live`)).status).toBe(200);
  });

  test('a wrong master key is a clear start-up error, not a crash', async () => {
    await expect(
      startServer(loadConfig({ ...env, PORTICO_MASTER_KEY: randomBytes(32).toString('hex') }), silent),
    ).rejects.toThrow(/PORTICO_MASTER_KEY: does not decrypt/);
    server = undefined;
  });
});

describe('readiness', () => {
  test('/health/ready is 503 once the database stops answering, /health/live stays 200', async () => {
    const gw = await openGateway(loadConfig({ PORTICO_DATA_DIR: 'memory://' }), silent);
    const app = buildAdminApp(gw);
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    await gw.close();
    const res = await app.inject('/health/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('NOT_READY');
    expect((await app.inject('/health/live')).statusCode).toBe(200);
    await app.close();
  });
});

const postgres = testDialects().includes('postgres') ? describe : describe.skip;
postgres('two instances starting at once on one PostgreSQL', () => {
  test('migrate once, and agree on the signing key and bootstrap token', async () => {
    const pg = await createPostgresDatabase();
    try {
      const env = { DATABASE_URL: pg.url, PORTICO_MASTER_KEY: randomBytes(32).toString('base64') };
      const [a, b] = await Promise.all([openGateway(loadConfig(env), silent), openGateway(loadConfig(env), silent)]);
      expect(a.keys.auditPublicKeyPem).toBe(b.keys.auditPublicKeyPem);
      expect(a.bootstrapTokenHash).toBe(b.bootstrapTokenHash);
      expect([a.bootstrapTokenShownOnce, b.bootstrapTokenShownOnce].filter(Boolean)).toHaveLength(1);
      const migrations = await a.db
        .selectFrom('kysely_migration' as never)
        .selectAll()
        .execute();
      expect(migrations.map((m: any) => m.name)).toEqual(Object.keys(MIGRATIONS)); // each exactly once
      await Promise.all([a.close(), b.close()]);
      const again = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ databaseUrl: pg.url })));
      await Promise.all(again.map((d) => d.close()));
    } finally {
      await pg.drop();
    }
  });
});
