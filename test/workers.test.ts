import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../server/config';
import { mergeWorkerMetrics } from '../server/cluster/metrics';
import { WORKER_BATCH } from '../server/data/counter-store-cluster';
import { createPostgresDatabase, testDialects } from './support/databases';
import { LOOPBACK_EGRESS, OWNER_TOKEN } from './support/gateway';
import { MockHttp } from './support/mock-http';

const ROOT = join(__dirname, '..');
const KEY = Buffer.alloc(32, 3).toString('base64');
const WORKERS = 2;

describe('PORTICO_WORKERS', () => {
  test('defaults to every core with PostgreSQL, to 1 with the embedded database; more than 1 there is refused', () => {
    const pg = { DATABASE_URL: 'postgres://localhost/x', PORTICO_MASTER_KEY: KEY };
    expect(loadConfig(pg).workers).toBe(availableParallelism());
    expect(loadConfig({ ...pg, PORTICO_WORKERS: '1' }).workers).toBe(1);
    expect(loadConfig({ ...pg, PORTICO_ROLE: 'control', PORTICO_WORKERS: '4' }).workers).toBe(1);
    expect(loadConfig({}).workers).toBe(1);
    expect(() => loadConfig({ PORTICO_WORKERS: '2' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORTICO_WORKERS: '2' })).toThrow(/PORTICO_WORKERS: 2 workers need PostgreSQL/);
    expect(() => loadConfig({ ...pg, PORTICO_WORKERS: 'many' })).toThrow(/PORTICO_WORKERS: must be a positive/);
  });
});

test("a node's metrics: the workers' counters and histograms added up, their gauges kept apart", () => {
  const worker = (requests: number, state: number) =>
    [
      '# HELP portico_requests_total Data-plane requests.',
      '# TYPE portico_requests_total counter',
      `portico_requests_total{kind="http",tenant="acme",status="200"} ${requests}`,
      '# HELP portico_latency_seconds Latency.',
      '# TYPE portico_latency_seconds histogram',
      `portico_latency_seconds_bucket{kind="http",le="0.01"} ${requests}`,
      `portico_latency_seconds_sum{kind="http"} 0.5`,
      '# HELP portico_redis_up Redis.',
      '# TYPE portico_redis_up gauge',
      `portico_redis_up ${state}`,
      '',
    ].join('\n');
  expect(
    mergeWorkerMetrics([
      [1, worker(3, 1)],
      [2, worker(4, 0)],
    ]).split('\n'),
  ).toEqual([
    '# HELP portico_requests_total Data-plane requests.',
    '# TYPE portico_requests_total counter',
    'portico_requests_total{kind="http",tenant="acme",status="200"} 7',
    '# HELP portico_latency_seconds Latency.',
    '# TYPE portico_latency_seconds histogram',
    'portico_latency_seconds_bucket{kind="http",le="0.01"} 7',
    'portico_latency_seconds_sum{kind="http"} 1',
    '# HELP portico_redis_up Redis.',
    '# TYPE portico_redis_up gauge',
    'portico_redis_up{worker="1"} 1',
    'portico_redis_up{worker="2"} 0',
    '',
  ]);
});

/** One request on a connection of its own (the primary hands each new connection to the next worker). */
function call(url: string, key?: string): Promise<{ status: number; worker: string | undefined }> {
  return new Promise((resolve, reject) => {
    const headers = key ? { authorization: `Bearer ${key}` } : {};
    get(url, { agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, worker: res.headers['x-portico-worker'] as string }));
    }).on('error', reject);
  });
}

async function admin(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${OWNER_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const postgres = testDialects().includes('postgres') ? describe : describe.skip;

/** `portico serve` (compiled) with `env`: its process, and its log lines as they come. */
function spawnPortico(env: Record<string, string>) {
  const child = spawn(process.execPath, ['cli/portico.js', 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORTICO_TSX: '',
      PORTICO_MASTER_KEY: KEY,
      PORTICO_WORKERS: String(WORKERS),
      PORTICO_DATA_DIR: 'memory://',
      PORTICO_ADMIN_PORT: '0',
      PORTICO_DATA_PORT: '0',
      PORTICO_ADMIN_TOKEN: OWNER_TOKEN,
      PORTICO_ADMIN_RATE_LIMIT: '0',
      PORTICO_EGRESS_ALLOW: LOOPBACK_EGRESS,
      PORTICO_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: any[] = [];
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
    const parts = out.split('\n');
    out = parts.pop()!;
    for (const p of parts) if (p.startsWith('{')) lines.push(JSON.parse(p));
  });
  child.stderr!.on('data', (d) => process.stderr.write(d));
  /** Waits for a log line that `match` accepts (already written or to come). */
  const line = async (match: (l: any) => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const found = lines.find(match);
      if (found) return found;
      if (Date.now() > end) throw new Error('log line not seen');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  };
  return { child, lines, line, stop };
}

postgres('portico serve with PORTICO_WORKERS=2 (PostgreSQL)', () => {
  let child: ChildProcess;
  let node: ReturnType<typeof spawnPortico>;
  let drop: () => Promise<void>;
  let databaseUrl: string;
  const mock = new MockHttp();
  let lines: any[];
  let line: ReturnType<typeof spawnPortico>['line'];
  let serving: any;
  let backend: string;

  beforeAll(async () => {
    backend = await mock.start();
    const pg = await createPostgresDatabase('migrated');
    drop = pg.drop;
    databaseUrl = pg.url;
    node = spawnPortico({ DATABASE_URL: pg.url });
    ({ child, lines, line } = node);
    serving = await line((l) => l.msg === 'portico is serving', 60_000);
    await admin(serving.admin, 'POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    await admin(serving.admin, 'POST', '/v1/admin/routes', {
      id: 'svc',
      path_prefix: '/svc',
      backend_url: backend,
      strip_prefix: true,
    });
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
    await mock.stop();
    await drop?.();
  });

  /** A new key of tenant acme, once every worker serves it. */
  const newKey = async (name: string, more: Record<string, unknown> = {}) => {
    const { id, key } = await admin(serving.admin, 'POST', '/v1/admin/tenants/acme/keys', { name, ...more });
    const ok = new Set<string>();
    const end = Date.now() + 5000;
    while (ok.size < WORKERS && Date.now() < end) {
      const r = await call(`${serving.data}/svc/ping`, key);
      if (r.status === 200) ok.add(r.worker!);
    }
    expect(ok.size).toBe(WORKERS);
    return { id: id as string, key: key as string };
  };

  test('one data port served by both workers; the serving line says how many', async () => {
    expect(serving.workers).toBe(WORKERS);
    expect(serving.database).toBe('postgres');
    const { key } = await newKey('both');
    const seen = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const r = await call(`${serving.data}/svc/items`, key);
      expect(r.status).toBe(200);
      seen.set(r.worker!, (seen.get(r.worker!) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(['1', '2']);
    // handed out in turn, connection by connection
    expect(Math.abs(seen.get('1')! - seen.get('2')!)).toBeLessThanOrEqual(2);
  });

  test('a key revoked through the admin API is refused by every worker within 1 s', async () => {
    const { id, key } = await newKey('revoked');
    await admin(serving.admin, 'POST', `/v1/admin/tenants/acme/keys/${id}/revoke`);
    const revoked = Date.now();
    const refusedAfter = new Map<string, number>();
    while (refusedAfter.size < WORKERS && Date.now() - revoked < 3000) {
      const r = await call(`${serving.data}/svc/items`, key);
      if (r.status === 401 && !refusedAfter.has(r.worker!)) refusedAfter.set(r.worker!, Date.now() - revoked);
      if (r.status !== 401) expect(refusedAfter.has(r.worker!)).toBe(false); // refused stays refused
    }
    expect([...refusedAfter.keys()].sort()).toEqual(['1', '2']);
    for (const ms of refusedAfter.values()) expect(ms).toBeLessThanOrEqual(1000);
  });

  test(`a route rate limit of N lets N to N + ${WORKERS} × ${WORKER_BATCH} through across both workers`, async () => {
    const limit = 100;
    await admin(serving.admin, 'POST', '/v1/admin/routes', {
      id: 'limited',
      path_prefix: '/limited',
      backend_url: backend,
      strip_prefix: true,
      rate_limit: { limit, window_secs: 300 },
    });
    const { key } = await newKey('limited');
    // newKey's probes went to /svc; wait until both workers know the limited route
    const known = new Set<string>();
    while (known.size < WORKERS) {
      const r = await call(`${serving.data}/limited/warm`, 'pk_not_a_key');
      if (r.status === 401) known.add(r.worker!);
    }
    const admitted = new Map<string, number>();
    let refused = 0;
    const sender = async () => {
      for (let i = 0; i < 25; i++) {
        const r = await call(`${serving.data}/limited/x`, key);
        if (r.status === 200) admitted.set(r.worker!, (admitted.get(r.worker!) ?? 0) + 1);
        else if (r.status === 429) refused++;
        else throw new Error(`unexpected ${r.status}`);
      }
    };
    await Promise.all(Array.from({ length: 12 }, sender));
    const total = [...admitted.values()].reduce((a, b) => a + b, 0);
    expect(admitted.size).toBe(WORKERS); // both workers admitted some
    expect(total).toBeGreaterThanOrEqual(limit);
    expect(total).toBeLessThanOrEqual(limit + WORKERS * WORKER_BATCH);
    expect(total + refused).toBe(300);
  });

  test('a busy counter far from its limit is never refused while its counts are on their way', async () => {
    const { Pool } = await import('undici');
    await admin(serving.admin, 'POST', '/v1/admin/routes', {
      id: 'roomy',
      path_prefix: '/roomy',
      backend_url: backend,
      strip_prefix: true,
      rate_limit: { limit: 1_000_000, window_secs: 60 },
    });
    const { key } = await newKey('roomy');
    const pool = new Pool(serving.data, { connections: 32 });
    const statuses = new Map<number, number>();
    try {
      const sender = async () => {
        for (let i = 0; i < 60; i++) {
          const res = await pool.request({
            path: '/roomy/x',
            method: 'GET',
            headers: { authorization: `Bearer ${key}` },
          });
          await res.body.dump();
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 32 }, sender));
    } finally {
      await pool.close();
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 32 * 60 });
  });

  test("the primary's /admin/quotas reads the workers' shared counts, and its reset reaches every worker", async () => {
    const tier = { id: 'daily-4', limit: 1000, window_secs: 60, daily_quota: 4, monthly_quota: 50 };
    await admin(serving.admin, 'POST', '/v1/admin/rate-limit-tiers', tier);
    // newKey's probes spend from the quota: a key of its own for them, then the same tier on a fresh key
    const { id, key } = await newKey('quota', { rate_limit_tier: tier.id });
    await new Promise((r) => setTimeout(r, 50)); // a flush (10 ms) or more
    const spent = (await admin(serving.admin, 'GET', `/admin/quotas/${id}`)).daily_count as number;
    expect(spent).toBeGreaterThanOrEqual(WORKERS);
    const seen = new Set<string>();
    for (let i = spent; i < 4; i++) {
      const r = await call(`${serving.data}/svc/q`, key);
      expect(r.status).toBe(200);
      await new Promise((r) => setTimeout(r, 30));
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(await admin(serving.admin, 'GET', `/admin/quotas/${id}`)).toMatchObject({
      daily_count: 4,
      daily_remaining: 0,
    });
    // a worker that has not used the counter since decides its first request on what it last heard (within the
    // bound); a read refreshes it within a flush
    let extra = 0;
    while (seen.size < WORKERS) {
      const r = await call(`${serving.data}/svc/q`, key);
      if (r.status === 200) extra++;
      else {
        expect(r.status).toBe(429);
        seen.add(r.worker!);
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(extra).toBeLessThanOrEqual(WORKERS * WORKER_BATCH);
    await admin(serving.admin, 'POST', `/admin/quotas/${id}/reset`);
    const admitted = new Set<string>();
    while (admitted.size < WORKERS) {
      const r = await call(`${serving.data}/svc/q`, key);
      expect(r.status).toBe(200); // no worker refuses on what it knew before the reset
      admitted.add(r.worker!);
    }
  });

  test("the admin port's /metrics counts the traffic of every worker, as one node's", async () => {
    const res = await fetch(`${serving.admin}/metrics`, { headers: { authorization: `Bearer ${OWNER_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.match(/^# TYPE portico_requests_total counter$/gm)).toHaveLength(1);
    const ok = text.match(/^portico_requests_total\{kind="http",tenant="acme",status="200"\} (\d+)$/gm);
    expect(ok).toHaveLength(1);
    // the busy-counter test alone had 1,920 answered 200, spread over both workers
    expect(Number(ok![0]!.split(' ')[1])).toBeGreaterThan(1920);
  });

  test("a data node's /metrics on its data port, whichever worker answers, is every worker's", async () => {
    const scraper = 'scraper-token-0123456789';
    const dataNode = spawnPortico({ DATABASE_URL: databaseUrl, PORTICO_ROLE: 'data', PORTICO_METRICS_TOKEN: scraper });
    try {
      const up = await dataNode.line((l) => l.msg === 'portico is serving', 60_000);
      const { key } = await newKey('data-node');
      const workers = new Set<string>();
      let served = 0;
      const end = Date.now() + 5000;
      while ((served < 40 || workers.size < WORKERS) && Date.now() < end) {
        const r = await call(`${up.data}/svc/ping`, key); // the node follows the feed: 401 until it has the key
        if (r.status === 200) ((served += 1), workers.add(r.worker!));
      }
      expect(workers.size).toBe(WORKERS);
      const count = async () => {
        const res = await fetch(`${up.data}/metrics`, {
          headers: { authorization: `Bearer ${scraper}`, connection: 'close' },
        });
        expect(res.status).toBe(200);
        const ok = /^portico_requests_total\{kind="http",tenant="acme",status="200"\} (\d+)$/m.exec(await res.text());
        return Number(ok?.[1] ?? 0);
      };
      // each scrape on a new connection, which the primary hands to the workers in turn
      const scrapes = [await count(), await count(), await count(), await count()];
      expect(scrapes).toEqual([served, served, served, served]);
    } finally {
      await dataNode.stop();
    }
  }, 90_000);

  test('a worker killed is replaced, and the port keeps serving', async () => {
    const first = await line((l) => l.msg === 'worker serving' && l.worker === 1);
    process.kill(first.workerPid, 'SIGKILL');
    const next = await line((l) => l.msg === 'worker serving' && l.worker === 1 && l.workerPid !== first.workerPid);
    expect(alive(next.workerPid)).toBe(true);
    expect(lines.some((l) => l.msg === 'worker exited; starting another' && l.worker === 1)).toBe(true);
    const { key } = await newKey('after-restart');
    expect((await call(`${serving.data}/svc/items`, key)).status).toBe(200);
  });

  test('SIGTERM stops the workers, then the primary', async () => {
    const pids = lines.filter((l) => l.msg === 'worker serving').map((l) => l.workerPid as number);
    const live = pids.filter(alive);
    expect(live.length).toBe(WORKERS);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    for (const pid of live) expect(alive(pid)).toBe(false);
  }, 30_000);
});
