import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import pino from 'pino';
import { startServer } from '../server/app';
import { loadConfig } from '../server/config';
import { createPostgresDatabase, testDialects, type TestDialect } from './support/databases';
import { LOOPBACK_EGRESS, OWNER_TOKEN, until } from './support/gateway';
import { testPgliteImage } from './support/pglite-image';
import { request, startLiveNode, type LiveNode } from './support/live-node';
import { MockHttp } from './support/mock-http';
import { RedisServer, redisAvailable } from './support/redis-server';

// four nodes, a Redis server stopped and started again, on a shared, busy machine
jest.setTimeout(120_000);

describe('PORTICO_REDIS_URL', () => {
  test('takes redis:// and rediss:// with batch, flush and timeout settings; anything else names the variable', () => {
    expect(loadConfig({}).redis).toBeUndefined();
    const url = 'rediss://:secret@cache.internal:6380/2';
    expect(loadConfig({ PORTICO_REDIS_URL: url, PORTICO_REDIS_BATCH: '8' }).redis).toEqual({
      url,
      batch: 8,
      flushMs: 10,
      timeoutMs: 250,
    });
    expect(() => loadConfig({ PORTICO_REDIS_URL: 'http://cache:6379' })).toThrow(/^PORTICO_REDIS_URL: must be/);
    expect(() => loadConfig({ PORTICO_REDIS_URL: 'redis://x', PORTICO_REDIS_BATCH: '0' })).toThrow(
      /^PORTICO_REDIS_BATCH: /,
    );
  });
});

/** Requests a node may admit per counter before Redis confirms them: the error bound is nodes × this. */
const BATCH = 5;
const haveRedis = redisAvailable();
const suite = haveRedis ? describe.each(testDialects()) : describe.skip.each(testDialects());

/**
 * Two data planes counting in one Redis, called over HTTP on loopback. On PostgreSQL both nodes share one database;
 * on PGlite each has its own, holding the same global routes (a route limit's counter is named by the route and the
 * caller, so the two count as one).
 */
suite('limits shared by two nodes through Redis (%s)', (dialect: TestDialect) => {
  const redis = new RedisServer();
  const backend = new MockHttp();
  let backendUrl: string;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  let nodes: LiveNode[] = [];
  let env: Record<string, string>;

  /**
   * A global route without keys, limited to `limit` per minute per caller, on both nodes; its path. Each node is
   * called until it serves the route: one admitted call per node, counted.
   */
  const limitedRoute = async (limit: number) => {
    const id = `r-${randomBytes(4).toString('hex')}`;
    const body = { id, path_prefix: `/${id}`, backend_url: backendUrl, auth_required: false };
    const targets = pg ? nodes.slice(0, 1) : nodes;
    for (const n of targets) {
      const res = await n.call('POST', '/v1/admin/routes', { ...body, rate_limit: { limit, window_secs: 60 } });
      expect(res.status).toBe(201);
    }
    for (const n of nodes) await until(async () => (await request('GET', `${n.dataUrl}/${id}/x`)).status !== 404, 5000);
    return `/${id}/x`;
  };

  /** `total` calls of `path` in waves of ten, half to each node; the statuses seen. */
  const burst = async (path: string, total: number, on = nodes) => {
    const statuses: number[] = [];
    for (let sent = 0; sent < total; sent += 10) {
      const wave = Array.from({ length: Math.min(10, total - sent) }, (_, i) =>
        request('GET', `${on[i % on.length]!.dataUrl}${path}`, undefined, null).then((r) => r.status),
      );
      statuses.push(...(await Promise.all(wave)));
    }
    return statuses;
  };
  const admitted = (statuses: number[]) => statuses.filter((s) => s === 200).length;

  const redisUp = async (node: LiveNode) => {
    const text = (await node.call('GET', '/metrics')).body as string;
    const m = /^portico_redis_up (\d)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  };

  beforeAll(async () => {
    backendUrl = await backend.start();
    await redis.start();
    pg = dialect === 'postgres' ? await createPostgresDatabase('migrated') : undefined;
    env = {
      PORTICO_REDIS_URL: redis.url,
      PORTICO_REDIS_BATCH: String(BATCH),
      PORTICO_REDIS_FLUSH_MS: '10',
      PORTICO_REDIS_TIMEOUT_MS: '500',
      PORTICO_MASTER_KEY: randomBytes(32).toString('base64'),
      ...(pg ? { DATABASE_URL: pg.url } : {}),
    };
    nodes = [await startLiveNode(env), await startLiveNode(env)];
  }, 240_000);

  afterAll(async () => {
    for (const n of nodes) await n.close();
    await pg?.drop();
    await redis.stop();
    await backend.stop();
  });

  test('one route limit across both nodes lets through the limit, at most nodes × batch more, per window', async () => {
    expect(await Promise.all(nodes.map(redisUp))).toEqual([1, 1]);
    const limit = 40;
    const statuses = await burst(await limitedRoute(limit), 200);
    expect(new Set(statuses)).toEqual(new Set([200, 429]));
    // alone, each node would have let 40 through: 80
    const total = admitted(statuses) + nodes.length;
    expect(total).toBeGreaterThanOrEqual(limit);
    expect(total).toBeLessThanOrEqual(limit + nodes.length * BATCH);
  });

  test('a counter busier than a batch per round trip waits for Redis instead of refusing while the limit has room', async () => {
    const path = await limitedRoute(1000);
    // waves of ten on one node: ten admitted in one turn are twice the batch, so half wait for Redis's answer
    const statuses = await burst(path, 200, nodes.slice(0, 1));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  test('a refusal on one node follows what the other admitted, with the usual headers', async () => {
    const path = await limitedRoute(6);
    await new Promise((r) => setTimeout(r, 100)); // a flush or two: both calls are in Redis
    expect(admitted(await burst(path, 4, nodes.slice(0, 1)))).toBe(4);
    await new Promise((r) => setTimeout(r, 100));
    // node b last heard of the counter at its own call: at most a batch of optimism, then the shared count
    const onB = await burst(path, 10, nodes.slice(1));
    expect(admitted(onB)).toBeLessThanOrEqual(BATCH);
    const refused = await request('GET', `${nodes[1]!.dataUrl}${path}`, undefined, null);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-ratelimit-limit')).toBe('6');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  test('Redis down: every request still answered on per-node limits, metric 0; back: shared again, metric 1', async () => {
    const limit = 20;
    const path = await limitedRoute(limit);
    await redis.stop();
    try {
      await until(async () => (await Promise.all(nodes.map(redisUp))).every((v) => v === 0), 5000);
      // each node on its own, from what it last heard (its call, perhaps the other's): no 5xx, no stall
      const started = Date.now();
      const [onA, onB] = [await burst(path, 30, nodes.slice(0, 1)), await burst(path, 30, nodes.slice(1))];
      expect(Date.now() - started).toBeLessThan(10_000);
      for (const on of [onA, onB]) expect(admitted(on)).toBeGreaterThanOrEqual(limit - nodes.length);
      for (const on of [onA, onB]) expect(admitted(on)).toBeLessThanOrEqual(limit - 1);
      expect(admitted(onA) + admitted(onB)).toBeGreaterThan(limit + nodes.length * BATCH);
      expect(new Set([...onA, ...onB])).toEqual(new Set([200, 429]));
    } finally {
      await redis.start(); // the same port, empty
    }
    await until(async () => (await Promise.all(nodes.map(redisUp))).every((v) => v === 1), 10_000);
    // what each node admitted alone was added to the shared count on return: the route is spent for both (a node
    // that has heard only its own push yet may admit within the bound before it hears the other's)
    expect(admitted(await burst(path, 20))).toBeLessThanOrEqual(nodes.length * BATCH);
    const direct = new Redis(redis.url);
    try {
      const [counter] = await direct.keys(`portico:limit:route:*${path.split('/')[1]}*`);
      expect(Number(await direct.get(counter!))).toBeGreaterThan(limit + nodes.length * BATCH);
    } finally {
      direct.disconnect();
    }
    // and a new limit is shared again
    const shared = await burst(await limitedRoute(limit), 80);
    const total = admitted(shared) + nodes.length;
    expect(total).toBeGreaterThanOrEqual(limit);
    expect(total).toBeLessThanOrEqual(limit + nodes.length * BATCH);
  });

  test('Redis too slow: no request waits on it, the node counts alone, metric 0; answering again: shared, 1', async () => {
    const limit = 20;
    const path = await limitedRoute(limit);
    const [a] = nodes as [LiveNode];
    redis.pause();
    let during: number[];
    try {
      const times: number[] = [];
      during = await burst(path, 40, [a]);
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        during.push((await request('GET', `${a.dataUrl}${path}`, undefined, null)).status);
        times.push(Date.now() - started);
      }
      await until(async () => (await redisUp(a)) === 0, 5000);
      // a call never waits for Redis (its timeout is 500 ms here): the hot path does not wait at all
      expect(Math.max(...times)).toBeLessThan(1000);
      expect(new Set(during)).toEqual(new Set([200, 429]));
      // on its own now, from what it had heard: within its limit
      expect(admitted(during)).toBeLessThanOrEqual(limit + BATCH);
    } finally {
      redis.resume();
    }
    await until(async () => (await redisUp(a)) === 1, 10_000);
    const after = await burst(path, 60);
    expect(after).toContain(429);
    expect(admitted(after)).toBeLessThanOrEqual(limit + nodes.length * BATCH);
  });

  // quotas are an API key's: both nodes must know the same key, so one database
  (dialect === 'postgres' ? test : test.skip)('quotas are shared, and a reset on one node acts on both', async () => {
    const [a, b] = nodes as [LiveNode, LiveNode];
    const tenant = `acme-${randomBytes(3).toString('hex')}`;
    expect((await a.call('POST', '/v1/admin/tenants', { id: tenant, name: 'Acme' })).status).toBe(201);
    const tier = { id: `t-${tenant}`, limit: 1000, window_secs: 60, daily_quota: 6, monthly_quota: 100 };
    expect((await a.call('POST', '/v1/admin/rate-limit-tiers', tier)).status).toBe(201);
    const key = (await a.call('POST', `/v1/admin/tenants/${tenant}/keys`, { name: 'k', rate_limit_tier: tier.id }))
      .body;
    const api = { id: 'q', name: 'q', tenant_id: tenant, path_prefix: `/apis/${tenant}/q`, backend_url: backendUrl };
    expect((await a.call('POST', '/admin/apis', { ...api, methods: [], activated: true })).status).toBe(201);
    const call = (n: LiveNode) => request('GET', `${n.dataUrl}/apis/${tenant}/q/x`, undefined, key.key);
    // each node knows the key and the route: the other node hears of them through the change feed, and until it
    // knows the key it answers 401 (key auth comes before route matching), not 404; the call ending a wait is admitted
    for (const n of nodes) await until(async () => ![404, 401].includes((await call(n)).status), 5000);
    // the two waiting calls were admitted: one more on each node, counted once for both
    expect([(await call(a)).status, (await call(b)).status]).toEqual([200, 200]);
    const counts = async () =>
      Promise.all(nodes.map(async (n) => (await n.call('GET', `/admin/quotas/${key.id}`)).body.daily_count));
    const both = (n: number) => async () => (await counts()).every((c) => c === n);
    await until(both(4), 2000); // once both nodes have sent theirs (a flush each)

    const statuses = [];
    // flushes between calls: each node hears the count at its own call, the other's a call or so late
    for (let i = 0; i < 6; i++) {
      statuses.push((await call(nodes[i % 2]!)).status);
      await new Promise((r) => setTimeout(r, 50));
    }
    const spent = 4 + statuses.filter((s) => s === 200).length;
    expect(spent).toBeGreaterThanOrEqual(6);
    expect(spent).toBeLessThanOrEqual(6 + nodes.length * BATCH);
    expect(statuses.at(-1)).toBe(429);
    await until(both(spent), 2000);

    expect((await a.call('POST', `/admin/quotas/${key.id}/reset`)).status).toBe(200);
    expect(await counts()).toEqual([0, 0]);
    await until(async () => (await call(b)).status === 200, 2000);

    // the counts live in Redis only: a node started after they are gone counts nothing back from the request logs
    await new Promise((r) => setTimeout(r, 100));
    const direct = new Redis(redis.url);
    try {
      expect(await direct.keys('portico:limit:quota-day:*')).not.toEqual([]);
      await direct.flushdb();
    } finally {
      direct.disconnect();
    }
    await b.close();
    nodes[1] = await startLiveNode(env);
    expect((await nodes[1].call('GET', `/admin/quotas/${key.id}`)).body).toMatchObject({ daily_count: 0 });
  });
});

/** A node as startLiveNode starts one, whose log lines the test reads. */
async function nodeWithLog(env: Record<string, string>, log: pino.Logger): Promise<LiveNode> {
  const config = loadConfig({
    PORTICO_DATA_DIR: 'memory://',
    PORTICO_ADMIN_TOKEN: OWNER_TOKEN,
    PORTICO_ADMIN_PORT: '0',
    PORTICO_DATA_PORT: '0',
    PORTICO_EGRESS_ALLOW: LOOPBACK_EGRESS,
    ...env,
  });
  const server = await startServer(config, log, { webhooks: false, pgliteImage: testPgliteImage() });
  const adminBase = server.adminUrl!;
  return {
    server,
    adminBase,
    dataUrl: server.dataUrl!,
    call: (method, path, body, token) => request(method, adminBase + path, body, token),
    close: () => server.close(),
  };
}

(haveRedis ? describe : describe.skip)('a node whose Redis is unreachable at start', () => {
  const redis = new RedisServer();
  const backend = new MockHttp();
  let node: LiveNode | undefined;

  afterAll(async () => {
    await node?.close();
    await redis.stop();
    await backend.stop();
  });

  test('starts counting on its own (metric 0, a warning) and shares once Redis answers', async () => {
    const backendUrl = await backend.start();
    await redis.start(); // only for a free port: stopped before the node starts
    await redis.stop();
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const started = Date.now();
    node = await nodeWithLog({ PORTICO_REDIS_URL: redis.url, PORTICO_REDIS_TIMEOUT_MS: '200' }, log);
    expect(Date.now() - started).toBeLessThan(30_000);
    const up = async () => /^portico_redis_up (\d)$/m.exec((await node!.call('GET', '/metrics')).body)?.[1];
    expect(await up()).toBe('0');
    expect(lines.some((l) => /"level":40.*Redis is unavailable/.test(l))).toBe(true);
    expect(lines.join('')).not.toContain(redis.url);

    const route = { id: 'late', path_prefix: '/late', backend_url: backendUrl, auth_required: false };
    const limited = { ...route, rate_limit: { limit: 2, window_secs: 60 } };
    expect((await node.call('POST', '/v1/admin/routes', limited)).status).toBe(201);
    const call = async () => (await request('GET', `${node!.dataUrl}/late/x`, undefined, null)).status;
    await until(async () => (await call()) !== 404, 5000);
    expect([await call(), await call()]).toEqual([200, 429]); // the node's own count

    await redis.start();
    await until(async () => (await up()) === '1', 10_000);
    expect(lines.some((l) => /Redis answers/.test(l))).toBe(true);
    // the two it admitted alone are now the shared count's, in Redis: still spent
    await new Promise((r) => setTimeout(r, 100));
    const direct = new Redis(redis.url);
    try {
      const [counter] = await direct.keys('portico:limit:route:*late*');
      expect(await direct.get(counter!)).toBe('2');
    } finally {
      direct.disconnect();
    }
    expect(await call()).toBe(429);
  });
});
