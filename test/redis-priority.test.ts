import { until } from './support/gateway';
import { GatedUpstream } from './support/gated-upstream';
import { startLiveNode, type LiveNode } from './support/live-node';
import { RedisServer, redisAvailable } from './support/redis-server';

jest.setTimeout(120_000);

const suite = redisAvailable() ? describe : describe.skip;

/**
 * Priority admission's requests in flight, counted across two nodes through Redis: with 4 at most in flight, the
 * standard tier (80 %) is admitted while fewer than 3 are in flight on the two together. The counts are not tied to
 * a database, so PGlite (each node its own) is enough.
 */
suite('priority admission shared by two nodes through Redis', () => {
  const redis = new RedisServer();
  const upstream = new GatedUpstream({ contentType: 'text/plain', first: 'first ', rest: 'rest' }, 20_000);
  let nodes: LiveNode[] = [];
  const path = '/held/x';
  const held: AbortController[] = [];

  /** A call whose answer has begun (status known) and is held open by the upstream until the test releases it. */
  const open = async (node: LiveNode) => {
    const abort = new AbortController();
    held.push(abort);
    const res = await fetch(`${node.dataUrl}${path}`, { signal: abort.signal });
    if (res.status !== 200) abort.abort();
    return res.status;
  };
  const inFlight = async (node: LiveNode) => {
    const stats = await node.call('GET', '/v1/admin/priority/stats');
    return stats.body.data.currentConcurrent as number;
  };

  beforeAll(async () => {
    const backendUrl = await upstream.start();
    await redis.start();
    const env = { PORTICO_REDIS_URL: redis.url, PORTICO_REDIS_FLUSH_MS: '10', PORTICO_PRIORITY_MAX_CONCURRENT: '4' };
    nodes = [await startLiveNode(env), await startLiveNode(env)];
    for (const n of nodes) {
      const route = { id: 'held', path_prefix: '/held', backend_url: backendUrl, auth_required: false };
      expect((await n.call('POST', '/v1/admin/routes', route)).status).toBe(201);
      // a call that finds the route is let go at once: the client leaving gives its place back
      await until(async () => (await open(n)) !== 404, 5000);
      held.pop()!.abort();
      await until(async () => (await inFlight(n)) === 0, 5000);
    }
  }, 240_000);

  afterAll(async () => {
    upstream.release.open();
    for (const a of held) a.abort();
    for (const n of nodes) await n.close();
    await redis.stop();
    await upstream.stop();
  });

  test('a node refuses the standard tier on what the other node has in flight; admits again once it is over', async () => {
    const [a, b] = nodes as [LiveNode, LiveNode];
    expect([await open(a), await open(a), await open(b)]).toEqual([200, 200, 200]);
    // b holds one alone (1 < 3): only the two held on a make the third place taken
    await new Promise((r) => setTimeout(r, 100));
    expect(await open(b)).toBe(429);
    expect(await inFlight(b)).toBe(1);

    upstream.release.open();
    for (const c of held) c.abort();
    await until(async () => (await inFlight(a)) === 0 && (await inFlight(b)) === 0, 5000);
    await new Promise((r) => setTimeout(r, 100));
    expect(await open(b)).toBe(200);
  });
});
