import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresDatabase, testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';
import { Receiver } from './support/receiver';
import { knownEventTypes } from '../server/resources/events';

const fast = { webhooks: { backoffMs: 50, pollMs: 50 } };
const hmac = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe.each(testDialects())('webhooks (%s)', (dialect) => {
  let t: TestGateway;
  let rx: Receiver;
  let url: string;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, fast);
    rx = new Receiver();
    url = await rx.start();
  });
  afterAll(async () => {
    await t?.close();
    await rx?.stop();
  });
  beforeEach(() => {
    rx.received.length = 0;
    rx.respond = () => 200;
  });

  const hooks: string[] = [];
  const subscribe = async (body: object) => {
    const res = await t.api('POST', '/v1/admin/webhooks', { url, ...body });
    expect(res.status).toBe(201);
    hooks.push(res.body.id);
    return res.body;
  };
  afterEach(async () => {
    for (const id of hooks.splice(0)) await t.api('DELETE', `/v1/admin/webhooks/${id}`);
  });

  test('the secret is shown once, stored encrypted, and signs each delivery (checked by an independent HMAC)', async () => {
    const hook = await subscribe({ events: ['TENANT_CREATED'] });
    expect(hook).toMatchObject({ tenant_id: null, url, events: ['TENANT_CREATED'], active: true, secret_set: true });
    expect(hook.secret).toMatch(/^whsec_/);
    const read = await t.api('GET', `/v1/admin/webhooks/${hook.id}`);
    expect(read.body.secret).toBeUndefined();
    const row = await t.gateway.db
      .selectFrom('resources')
      .selectAll()
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(hook.secret);

    const tenant = await t.api('POST', '/v1/admin/tenants', { id: 'hooked', name: 'Hooked' });
    const [got] = await rx.waitFor(1);
    expect(got!.headers['x-gateway-signature']).toBe(hmac(hook.secret, got!.body));
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['x-gateway-event']).toBe('TENANT_CREATED');
    expect(got!.headers['x-gateway-delivery']).toMatch(/^dlv_/);
    const body = JSON.parse(got!.body);
    expect(body).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'TENANT_CREATED',
      created_at: expect.any(String),
      tenant_id: 'hooked',
      data: expect.objectContaining({ resource: { kind: 'tenant', id: 'hooked' } }),
    });
    expect(body.data.changes.name.to).toBe(tenant.body.name);
    const audit = (await t.api('GET', '/v1/admin/audit/events?type=TENANT_CREATED')).body.data[0];
    expect(body.id).toBe(audit.id);
  });

  test('a receiver that fails twice gets the delivery on the third attempt; every attempt is logged', async () => {
    const hook = await subscribe({ events: ['TENANT_CREATED'] });
    rx.respond = (n) => (n <= 2 ? 500 : 204);
    await t.api('POST', '/v1/admin/tenants', { id: 'retry-me', name: 'Retry' });
    const got = await rx.waitFor(3);
    expect(new Set(got.map((g) => g.headers['x-gateway-delivery'])).size).toBe(1);
    let log: any;
    for (let i = 0; i < 100; i++) {
      log = (await t.api('GET', `/v1/admin/webhooks/${hook.id}/deliveries`)).body.data[0];
      if (log.status === 'DELIVERED') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(log).toMatchObject({ event_type: 'TENANT_CREATED', status: 'DELIVERED', next_attempt_at: null });
    expect(log.attempts.map((a: any) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, 500],
      [3, 204],
    ]);
    expect(log.attempts[0].error).toBe('HTTP 500');
  });

  test('a receiver that never succeeds is retried at least 3 times, then FAILED', async () => {
    const hook = await subscribe({ events: ['TENANT_UPDATED'] });
    rx.respond = () => 503;
    await t.api('PUT', '/v1/admin/tenants/retry-me', { name: 'Still failing' });
    await rx.waitFor(5);
    let log: any;
    for (let i = 0; i < 100 && log?.status !== 'FAILED'; i++) {
      log = (await t.api('GET', `/v1/admin/webhooks/${hook.id}/deliveries`)).body.data[0];
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(log.status).toBe('FAILED');
    expect(log.attempts).toHaveLength(5);
  });

  test('events filter by type and tenant; "*" gets everything; inactive hooks get nothing', async () => {
    await t.api('POST', '/v1/admin/tenants', { id: 't-a', name: 'A' });
    await t.api('POST', '/v1/admin/tenants', { id: 't-b', name: 'B' });
    await subscribe({ tenant_id: 't-a', events: ['API_KEY_CREATED'] });
    await subscribe({ events: ['ROUTE_CREATED'], active: false });
    await t.api('POST', '/v1/admin/tenants/t-b/keys', { name: 'not for a' });
    await t.api('POST', '/v1/admin/routes', { id: 'quiet', model_pattern: 'x*', providers: [{ provider: 'openai' }] });
    await t.api('POST', '/v1/admin/tenants/t-a/keys', { name: 'for a' });
    const [got] = await rx.waitFor(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.received).toHaveLength(1);
    expect(JSON.parse(got!.body)).toMatchObject({ type: 'API_KEY_CREATED', tenant_id: 't-a' });
  });

  test('a hanging receiver never holds up the request that caused the event', async () => {
    await subscribe({ events: ['TENANT_CREATED'] });
    rx.respond = () => 'hang';
    const res = await t.api('POST', '/v1/admin/tenants', { id: 'not-blocked', name: 'x' });
    expect(res.status).toBe(201);
    await rx.waitFor(1);
  });

  test('POST …/test sends a signed WEBHOOK_TEST and reports the result; rotating the secret re-signs', async () => {
    const hook = await subscribe({ events: ['*'] });
    const res = await t.api('POST', `/v1/admin/webhooks/${hook.id}/test`);
    expect(res.body).toEqual({ delivered: true, status_code: 200, duration_ms: expect.any(Number), error: null });
    const got = rx.received.find((r) => r.headers['x-gateway-event'] === 'WEBHOOK_TEST')!;
    expect(got.headers['x-gateway-signature']).toBe(hmac(hook.secret, got.body));

    const put = await t.api('PUT', `/v1/admin/webhooks/${hook.id}`, {
      url,
      events: ['*'],
      secret: 'my-new-secret-value',
    });
    expect(put.status).toBe(200);
    expect(put.body.secret).toBeUndefined();
    rx.received.length = 0;
    await t.api('POST', `/v1/admin/webhooks/${hook.id}/test`);
    // The PUT's own WEBHOOK_UPDATED delivery may arrive in between: pick the test event.
    const resent = rx.received.find((r) => r.headers['x-gateway-event'] === 'WEBHOOK_TEST')!;
    expect(resent.headers['x-gateway-signature']).toBe(hmac('my-new-secret-value', resent.body));
    const updated = (await t.api('GET', '/v1/admin/audit/events?type=WEBHOOK_UPDATED')).body.data[0];
    expect(JSON.stringify(updated)).not.toContain('my-new-secret-value');

    const down = await subscribe({ url: 'http://127.0.0.1:9/nothing', events: ['*'] });
    const failed = await t.api('POST', `/v1/admin/webhooks/${down.id}/test`);
    expect(failed.body).toMatchObject({ delivered: false, status_code: null, error: expect.any(String) });
  });

  test('URLs that are not http(s), and unknown event names, are refused', async () => {
    for (const [body, path] of [
      [{ url: 'ftp://example.com/x', events: ['*'] }, 'url'],
      [{ url: 'file:///etc/passwd', events: ['*'] }, 'url'],
      [{ url: 'not a url', events: ['*'] }, 'url'],
      [{ url: 'https://ok.example.com', events: [] }, 'events'],
      [{ url: 'https://ok.example.com', events: ['tenant created'] }, 'events.0'],
      [{ url: 'https://ok.example.com', events: ['ROUTE_UPDATD'] }, 'events.0'],
      [{ url: 'https://ok.example.com', events: ['*', 'TENANT_CREATED', 'NO_SUCH_EVENT'] }, 'events.2'],
    ] as const) {
      const res = await t.api('POST', '/v1/admin/webhooks', body);
      expect([res.status, res.body.error.details[0].path]).toEqual([400, path]);
    }
    const hook = await subscribe({ events: ['TENANT_CREATED'] });
    const put = await t.api('PUT', `/v1/admin/webhooks/${hook.id}`, {
      url,
      events: ['TENANT_CREATED', 'TENANT_CREATD'],
    });
    expect([put.status, put.body.error.details]).toEqual([
      400,
      [{ path: 'events.1', message: expect.stringContaining('not a known event type') }],
    ]);
    expect((await t.api('GET', `/v1/admin/webhooks/${hook.id}`)).body.events).toEqual(['TENANT_CREATED']);
  });

  test('every known event type may be subscribed to, and every event this suite wrote is a known type', async () => {
    const known = knownEventTypes();
    expect(known).toEqual(
      expect.arrayContaining([
        'TENANT_CREATED',
        'ROUTE_ROLLED_BACK',
        'TOKEN_REVOKED',
        'CREDENTIAL_ROTATED',
        'TENANT_METADATA_UPDATED',
        'TENANT_SCOPE_VIOLATION',
        'WEBHOOK_TEST',
      ]),
    );
    await subscribe({ events: [...known] });
    const written = await t.gateway.db.selectFrom('audit_events').select('type').distinct().execute();
    expect(written.map((e) => e.type).filter((type) => !known.includes(type))).toEqual([]);
  });

  test("every event type the server code writes by name (`type: '…'`) is a known one", () => {
    const files = readdirSync(join(__dirname, '..', 'server'), { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    const named = files.flatMap((f) =>
      [...readFileSync(join(__dirname, '..', 'server', f), 'utf8').matchAll(/\btype: '([A-Z][A-Z0-9_]+)'/g)].map(
        (m) => m[1]!,
      ),
    );
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((type) => !knownEventTypes().includes(type))).toEqual([]);
  });
});

describe.each(testDialects())('webhook outbox across a restart (%s)', (dialect) => {
  test('a delivery queued before a restart is sent after it', async () => {
    const pg = dialect === 'postgres' ? await createPostgresDatabase('migrated') : undefined;
    const env = {
      PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
      ...(pg ? { DATABASE_URL: pg.url } : { PORTICO_DATA_DIR: mkdtempSync(join(tmpdir(), 'portico-outbox-')) }),
    };
    const start = (webhooks: false | { backoffMs: number; pollMs: number }) =>
      startTestGateway(dialect, env, { webhooks });
    const rx = new Receiver();
    const url = await rx.start();
    try {
      const first = await start(false);
      await first.api('POST', '/v1/admin/webhooks', { url, events: ['TENANT_CREATED'] });
      await first.api('POST', '/v1/admin/tenants', { id: 'queued', name: 'Queued' });
      const pending = await first.gateway.db.selectFrom('webhook_deliveries').select('status').execute();
      expect(pending).toEqual([{ status: 'PENDING' }]);
      await first.close();
      expect(rx.received).toHaveLength(0);
      const second = await start({ backoffMs: 50, pollMs: 50 });
      const [got] = await rx.waitFor(1);
      expect(JSON.parse(got!.body)).toMatchObject({ type: 'TENANT_CREATED', tenant_id: 'queued' });
      await second.close();
    } finally {
      await rx.stop();
      await pg?.drop();
    }
  });
});
