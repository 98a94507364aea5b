import type { AddressInfo } from 'node:net';
import { loadConfig } from '../server/config';
import { buildAdminApp } from '../server/control/admin-app';
import { HealthChecker } from '../server/data/health-checker';
import { egressPermits, isPublicAddress, parseEgressAllow } from '../server/net/egress';
import { RESOURCES } from '../server/resources';
import { testDialects } from './support/databases';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp } from './support/mock-http';

/** Host spellings (as a URL holds them) that reach no public address; those marked `local` reach the mock. */
const REFUSED: [string, string, boolean][] = [
  ['loopback', '127.0.0.1', true],
  ['a decimal integer', '2130706433', true],
  ['hex and a short form', '0x7f.1', true],
  ['a short form', '127.1', true],
  ['octal', '0177.0.0.1', true],
  ['IPv4-mapped IPv6', '[::ffff:127.0.0.1]', true],
  ['IPv4-mapped IPv6 in hex', '[::ffff:7f00:1]', true],
  ['a name resolving to loopback (checked after DNS)', 'localhost', true],
  ['0.0.0.0', '0.0.0.0', false],
  ['IPv6 loopback', '[::1]', false],
  ['IPv6 unspecified', '[::]', false],
  ['NAT64 of loopback', '[64:ff9b::7f00:1]', false],
  ['private 10/8', '10.0.0.5', false],
  ['private 172.16/12', '172.16.0.1', false],
  ['private 192.168/16', '192.168.1.1', false],
  ['carrier-grade NAT', '100.64.0.1', false],
  ['link-local (metadata service)', '169.254.169.254', false],
  ['IPv4-mapped private', '[::ffff:10.0.0.5]', false],
  ['unique-local IPv6', '[fd00::1]', false],
  ['link-local IPv6', '[fe80::1]', false],
  ['multicast', '224.0.0.1', false],
  ['broadcast', '255.255.255.255', false],
];
const REACHABLE = ['127.0.0.1', '2130706433', '0x7f.1', '127.1', '[::ffff:127.0.0.1]'];

interface Outcome {
  ok: boolean;
  /** The data plane's error code, when it answered with one. */
  code: string | null;
  /** Everything the caller (or the tenant reading logs and snapshots) gets to read. */
  text: string;
}

/** A gateway and its data plane, with a tenant `acme` that has a key and its own OpenAI credential. */
interface Env {
  t: TestGateway;
  data: Awaited<ReturnType<typeof startDataPlane>>;
  key: string;
}

async function openEnv(dialect: Parameters<typeof startTestGateway>[0], allow: string): Promise<Env> {
  const t = await startTestGateway(
    dialect,
    { PORTICO_EGRESS_ALLOW: allow },
    { webhooks: { backoffMs: 50, pollMs: 50 } },
  );
  const data = await startDataPlane(t);
  await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
  const k = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'prod' })).body;
  await t.api('POST', '/v1/admin/credentials', {
    id: 'acme-openai',
    tenant_id: 'acme',
    provider: 'openai',
    api_key: 'sk-acme-0000',
  });
  await t.api('POST', '/v1/admin/credentials', { id: 'global-openai', provider: 'openai', api_key: 'sk-global-0000' });
  await until(
    () => !!t.gateway.snapshot.get('api_key', k.id) && !!t.gateway.snapshot.get('credential', 'global-openai'),
  );
  return { t, data, key: k.key };
}

let n = 0;

/** Creates a resource (tenant-owned when `owner` is set) and waits for the snapshot to hold it. */
async function create(
  env: Env,
  kind: string,
  path: string,
  owner: string | null,
  body: (id: string) => Record<string, unknown>,
): Promise<string> {
  const id = `eg-${kind}-${++n}`;
  const res = await env.t.api('POST', path, { id, ...(owner ? { tenant_id: owner } : {}), ...body(id) });
  expect([res.status, res.text]).toEqual([201, expect.any(String)]);
  if (kind !== 'webhook') await until(() => !!env.t.gateway.snapshot.get(kind, id));
  return id;
}

const answer = async (res: Response): Promise<Outcome> => {
  const text = await res.text();
  return { ok: res.status === 200, code: res.status === 200 ? null : (JSON.parse(text).error.code as string), text };
};

/** Every kind of outbound call, each made once to `url` from a resource `owner` owns (null: global). */
const OUTBOUND: Record<string, (env: Env, owner: string | null, url: string) => Promise<Outcome>> = {
  'route backend': async (env, owner, url) => {
    const id = await create(env, 'route', '/v1/admin/routes', owner, (id) => ({
      path_prefix: `/${id}`,
      backend_url: url,
      timeout_ms: 2000,
    }));
    return answer(await fetch(`${env.data.url}/${id}/x`, { headers: { authorization: `Bearer ${env.key}` } }));
  },
  'LLM base_url': async (env, owner, url) => {
    const id = await create(env, 'route', '/v1/admin/routes', owner, (id) => ({
      model_pattern: id,
      providers: [{ provider: 'openai', base_url: url }],
      timeout_ms: 2000,
    }));
    const body = JSON.stringify({ model: id, messages: [{ role: 'user', content: 'hi' }] });
    return answer(
      await fetch(`${env.data.url}/v1/chat/completions`, {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' },
      }),
    );
  },
  'health check': async (env, owner, url) => {
    const id = await create(env, 'service', '/v1/admin/services', owner, () => ({
      name: 'svc',
      target_url: url,
      health_check_path: '/health',
      timeout_ms: 2000,
    }));
    const checker = new HealthChecker(env.t.gateway);
    await checker.check(env.t.gateway.snapshot.get('service', id)!);
    await checker.stop();
    const snapshot = (await env.t.api('GET', `/v1/admin/health-snapshots?service_id=${id}`)).body.data[0];
    return { ok: snapshot.status === 'UP', code: null, text: JSON.stringify([snapshot.status_code, snapshot.error]) };
  },
  'webhook delivery': async (env, owner, url) => {
    // a "*" webhook hears its own WEBHOOK_CREATED
    const id = await create(env, 'webhook', '/v1/admin/webhooks', owner, () => ({ url, events: ['*'] }));
    let attempt: { status_code: number | null; error: string | null } | undefined;
    await until(async () => {
      const deliveries = (await env.t.api('GET', `/v1/admin/webhooks/${id}/deliveries`)).body.data as {
        event_type: string;
        attempts: (typeof attempt)[];
      }[];
      attempt = deliveries.find((d) => d.event_type === 'WEBHOOK_CREATED')?.attempts[0];
      return attempt !== undefined;
    }, 5000);
    await env.t.api('DELETE', `/v1/admin/webhooks/${id}`);
    return {
      ok: attempt!.status_code === 200,
      code: null,
      text: JSON.stringify([attempt!.status_code, attempt!.error]),
    };
  },
  // the target is no MCP server: reaching it is what counts (the check then says it did not answer as one)
  'MCP server check': async (env, owner, url) => {
    const id = await create(env, 'mcp_server', '/v1/admin/mcp-servers', owner, () => ({
      name: 'm',
      url,
      auth_header: 'x',
    }));
    const q = owner ? `?tenant_id=${owner}` : '';
    const res = await env.t.api('POST', `/v1/admin/mcp-servers/${id}/check${q}`);
    await env.t.api('DELETE', `/v1/admin/mcp-servers/${id}${q}`);
    return { ok: /not as an MCP server/.test(res.body.error), code: null, text: JSON.stringify(res.body) };
  },
  'webhook test': async (env, owner, url) => {
    const id = await create(env, 'webhook', '/v1/admin/webhooks', owner, () => ({ url, events: ['TENANT_DELETED'] }));
    const res = await env.t.api('POST', `/v1/admin/webhooks/${id}/test`);
    await env.t.api('DELETE', `/v1/admin/webhooks/${id}`);
    return {
      ok: res.body.delivered === true,
      code: null,
      text: JSON.stringify([res.body.status_code, res.body.error]),
    };
  },
};
const KINDS = Object.keys(OUTBOUND);

/** The target field (`kind.field`, as the definitions declare them) whose calls each outbound kind makes. */
const CALLS_TO: Record<string, string> = {
  'route backend': 'route.backend_url',
  'LLM base_url': 'route.providers.*.base_url',
  'health check': 'service.target_url',
  'webhook delivery': 'webhook.url',
  'webhook test': 'webhook.url',
  'MCP server check': 'mcp_server.url',
};

test('every target field the definitions declare is called by an outbound kind this suite checks', () => {
  const declared = RESOURCES.flatMap((d) => (d.targets ?? []).map((f) => `${d.kind}.${f}`));
  expect(new Set(declared)).toEqual(new Set(KINDS.map((k) => CALLS_TO[k])));
});

describe.each(testDialects())('egress rules (%s)', (dialect) => {
  let strict: Env;
  let widened: Env;
  let mock: MockHttp;
  let port: string;
  const urlOf = (host: string) => `http://${host}:${port}/p`;

  beforeAll(async () => {
    mock = new MockHttp();
    port = new URL(await mock.start()).port;
    [strict, widened] = await Promise.all([openEnv(dialect, ''), openEnv(dialect, '127.0.0.0/8,localhost')]);
  }, 180_000); // two gateways: slow on a loaded machine
  afterAll(async () => {
    for (const env of [strict, widened]) {
      await env?.data.close();
      await env?.t.close();
    }
    await mock?.stop();
  });

  test.each(REFUSED)(
    '%s (%s): a tenant-owned target is refused by every kind of outbound call, and no text names it',
    async (_what, host) => {
      for (const kind of KINDS) {
        const before = mock.seen.length;
        const out = await OUTBOUND[kind]!(strict, 'acme', urlOf(host));
        expect({ kind, ok: out.ok, code: out.code }).toEqual({
          kind,
          ok: false,
          code: out.code === null ? null : 'egress_denied',
        });
        expect({ kind, denied: /not (at )?a public address/.test(out.text) }).toEqual({ kind, denied: true });
        for (const leak of [port, '127.0.0.1', 'ECONNREFUSED', host.replace(/[[\]]/g, '')])
          expect({ kind, text: out.text }).not.toEqual({ kind, text: expect.stringContaining(leak) });
        expect({ kind, reached: mock.seen.length - before }).toEqual({ kind, reached: 0 });
      }
    },
  );

  test.each(REACHABLE)(
    '%s: a global target (set by platform roles) reaches it, by every kind of outbound call',
    async (host) => {
      for (const kind of KINDS) {
        const out = await OUTBOUND[kind]!(strict, null, urlOf(host));
        expect({ kind, ok: out.ok, text: out.text }).toEqual({ kind, ok: true, text: expect.any(String) });
      }
    },
  );

  test.each(['127.0.0.1', '2130706433', '[::ffff:127.0.0.1]', 'localhost'])(
    '%s: PORTICO_EGRESS_ALLOW (a CIDR and a host name) lets a tenant-owned target through, for every kind',
    async (host) => {
      for (const kind of KINDS) {
        const out = await OUTBOUND[kind]!(widened, 'acme', urlOf(host));
        expect({ kind, ok: out.ok, text: out.text }).toEqual({ kind, ok: true, text: expect.any(String) });
      }
    },
  );

  test('what the allow-list does not name stays refused: [::1] with 127.0.0.0/8 allowed', async () => {
    const out = await OUTBOUND['route backend']!(widened, 'acme', urlOf('[::1]'));
    expect([out.ok, out.code]).toEqual([false, 'egress_denied']);
  });

  test("a tenant route to a global service uses the platform's target, unrestricted; to the tenant's own service, restricted", async () => {
    const platform = await create(strict, 'service', '/v1/admin/services', null, () => ({
      name: 'platform',
      target_url: urlOf('127.0.0.1'),
    }));
    const own = await create(strict, 'service', '/v1/admin/services', 'acme', () => ({
      name: 'own',
      target_url: urlOf('127.0.0.1'),
    }));
    for (const [service, status] of [
      [platform, 200],
      [own, 502],
    ] as const) {
      const id = await create(strict, 'route', '/v1/admin/routes', 'acme', (id) => ({
        path_prefix: `/${id}`,
        service_id: service,
      }));
      const res = await fetch(`${strict.data.url}/${id}`, { headers: { authorization: `Bearer ${strict.key}` } });
      expect([service, res.status]).toEqual([service, status]);
    }
  });

  test('a global target that fails gives tenants no address either: the route answer and the health snapshot', async () => {
    const dead = 'http://127.0.0.1:1/';
    const route = await OUTBOUND['route backend']!(strict, null, dead);
    const health = await OUTBOUND['health check']!(strict, null, dead);
    for (const out of [route, health]) {
      expect(out.ok).toBe(false);
      expect(out.text).toContain('the target could not be reached');
      expect(out.text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|:1\b/);
    }
    // the error event, which the caller's tenant reads, names the route rather than the platform's URL
    let events: { upstream: string | null; message: string }[] = [];
    await until(async () => {
      events = (await strict.t.api('GET', '/v1/admin/error-events?tenant_id=acme')).body.data;
      return events.some((e) => e.upstream?.startsWith('backend of route'));
    });
    expect(JSON.stringify(events)).not.toContain(dead);
  });

  test("the gateway's own admin port is unreachable through a tenant route", async () => {
    const admin = buildAdminApp(strict.t.gateway);
    const address = await admin.listen({ host: '127.0.0.1', port: 0 });
    try {
      const adminPort = (admin.server.address() as AddressInfo).port;
      const id = await create(strict, 'route', '/v1/admin/routes', 'acme', () => ({
        path_prefix: '/own-admin',
        backend_url: `${address}/v1/admin`,
        strip_prefix: true,
      }));
      const res = await fetch(`${strict.data.url}/own-admin/tenants`, {
        headers: { authorization: `Bearer ${strict.key}` },
      });
      const body = await res.text();
      expect([res.status, JSON.parse(body).error.code]).toEqual([502, 'egress_denied']);
      expect(JSON.parse(body).error.message).toBe('Backend of route "' + id + '" is not at a public address');
      expect(body).not.toContain(String(adminPort));
    } finally {
      await admin.close();
    }
  });

  test('a refused target opens no circuit, and a connection error to an allowed tenant target names no address', async () => {
    const id = await create(widened, 'route', '/v1/admin/routes', 'acme', () => ({
      path_prefix: '/gone',
      backend_url: 'http://127.0.0.1:1/',
      circuit_breaker: { failure_threshold: 1 },
    }));
    const res = await fetch(`${widened.data.url}/gone`, { headers: { authorization: `Bearer ${widened.key}` } });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect([res.status, body.error.code]).toEqual([502, 'upstream_error']);
    expect(body.error.message).toBe(`Backend of route "${id}" could not be reached: the target could not be reached`);
    const denied = await create(strict, 'route', '/v1/admin/routes', 'acme', () => ({
      path_prefix: '/denied',
      backend_url: 'http://10.0.0.5/',
      circuit_breaker: { failure_threshold: 1 },
    }));
    for (let i = 0; i < 2; i++) {
      const again = await fetch(`${strict.data.url}/denied`, { headers: { authorization: `Bearer ${strict.key}` } });
      expect([again.status, ((await again.json()) as any).error.code]).toEqual([502, 'egress_denied']);
    }
    expect(strict.data.app.dataPlane.breakers.entries().filter(([c]) => c.endsWith(`/${denied}`))).toEqual([]);
  });
});

describe('egress address rules', () => {
  test.each([
    ['127.0.0.1', false],
    ['0.0.0.0', false],
    ['10.1.2.3', false],
    ['172.31.255.255', false],
    ['172.32.0.1', true],
    ['192.168.0.1', false],
    ['100.64.0.1', false],
    ['100.128.0.1', true],
    ['169.254.169.254', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['198.18.0.1', false],
    ['8.8.8.8', true],
    ['::1', false],
    ['::', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['::ffff:8.8.8.8', true],
    ['::127.0.0.1', false],
    ['64:ff9b::a00:1', false],
    ['64:ff9b::808:808', true],
    ['2002:7f00:1::', false],
    ['fd12::1', false],
    ['fe80::1', false],
    ['ff02::1', false],
    ['2001:db8::1', false],
    ['2606:4700::1111', true],
    ['not-an-ip', false],
  ])('%s is public: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  test('PORTICO_EGRESS_ALLOW: CIDRs (v4, v6, a bare address) and host names widen the rule; mapped IPv6 matches a v4 CIDR', () => {
    const allow = parseEgressAllow(' 10.0.0.0/8, fd00::/8 ,192.168.1.7, internal.example.com ');
    expect(egressPermits(allow, 'x', '10.9.9.9')).toBe(true);
    expect(egressPermits(allow, 'x', '::ffff:10.9.9.9')).toBe(true);
    expect(egressPermits(allow, 'x', 'fd00::5')).toBe(true);
    expect(egressPermits(allow, 'x', '192.168.1.7')).toBe(true);
    expect(egressPermits(allow, 'x', '192.168.1.8')).toBe(false);
    expect(egressPermits(allow, 'Internal.Example.com.', '127.0.0.1')).toBe(true);
    expect(egressPermits(allow, 'x', '127.0.0.1')).toBe(false);
  });

  test.each(['10.0.0.0/33', 'fd00::/129', '10.0.0.0/8/1', 'not a host', 'http://x', '10.0.0.0/'])(
    'PORTICO_EGRESS_ALLOW=%s stops start-up with an error naming the variable',
    (raw) => {
      expect(() => loadConfig({ PORTICO_EGRESS_ALLOW: raw })).toThrow(/^PORTICO_EGRESS_ALLOW: /);
    },
  );
});
