import { insertResource } from '../server/store/resource-store';
import type { RouteState } from '../server/resources';
import { route as routeDefinition } from '../server/resources/route';
import type { ConfigSnapshot } from '../server/store/snapshot';
import { matchHttpRoute } from '../server/data/route-match-http';
import { llmRoutes } from '../server/data/route-match';
import { testDialects } from './support/databases';
import { startDataPlane, startTestGateway, type TestGateway } from './support/gateway';

/*
 * The route index (a radix tree by path prefix, LLM patterns by literal head) against the linear scans it replaced,
 * kept here as the oracle: many generated configurations, stored as rows of a real database and read by a real
 * snapshot, and every generated request answered alike by both. The generator crowds a few prefixes, ids and
 * tenants on purpose, so ties, trailing slashes, method lists, disabled routes and legacy data (two tenants on one
 * prefix, which path claims refuse today) come up often.
 */

type HttpRoute = RouteState & { path_prefix: string };
type LlmRoute = RouteState & { model_pattern: string };

// ---- the oracle: the matching code as it was before the index (server/data/http-proxy.ts, route-match.ts) ----
const under = (path: string, prefix: string) =>
  path === prefix || (path.startsWith(prefix) && (prefix.endsWith('/') || path[prefix.length] === '/'));

function linearHttpMatch(snapshot: ConfigSnapshot, method: string, path: string, tenantId: string | null) {
  let best: HttpRoute | undefined;
  for (const r of snapshot.all('route') as HttpRoute[]) {
    if (!r.enabled || r.path_prefix === null) continue;
    if (!under(path, r.path_prefix)) continue;
    if (tenantId !== null && r.tenant_id !== null && r.tenant_id !== tenantId) continue;
    if (r.methods.length && !(r.methods as string[]).includes(method)) continue;
    if (!best || better(r, best, tenantId === null)) best = r;
  }
  return best;
}

function better(a: HttpRoute, b: HttpRoute, anonymous: boolean): boolean {
  const globalA = a.tenant_id === null;
  if (anonymous && globalA !== (b.tenant_id === null)) return globalA;
  if (a.path_prefix.length !== b.path_prefix.length) return a.path_prefix.length > b.path_prefix.length;
  if (a.tenant_id !== b.tenant_id) {
    if (globalA !== (b.tenant_id === null)) return !globalA;
    return a.id < b.id;
  }
  if (a.priority !== b.priority) return a.priority > b.priority;
  return a.id < b.id;
}

/** `*` as any run of characters, through a regular expression: how patterns were matched before server/lib/glob.ts. */
const globByRegExp = (pattern: string, model: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's', // `*` is any run of characters, line breaks too
  ).test(model);

function linearLlmRoutes(snapshot: ConfigSnapshot, tenantId: string, model?: string): LlmRoute[] {
  const candidates = [...snapshot.ownedBy('route', tenantId), ...snapshot.ownedBy('route', null)]
    .filter((r): r is LlmRoute => r.enabled && r.model_pattern !== null)
    .sort(
      (a, b) =>
        Number(b.tenant_id !== null) - Number(a.tenant_id !== null) ||
        b.priority - a.priority ||
        a.id.localeCompare(b.id),
    );
  return model === undefined ? candidates : candidates.filter((r) => globByRegExp(r.model_pattern, model));
}

// ---- the generator ----
/** A small seeded generator (mulberry32), so a failure names a seed that reproduces it. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  return { next, pick };
}

const SEGMENTS = ['a', 'ab', 'api', 'v1', 'b', ''];
const TENANTS = ['t1', 't2', 't3'];
const IDS = ['a', 'b', 'r1', 'r2', 'r10', 'Z', 'rt_x'];
const METHODS = ['GET', 'POST', 'DELETE', 'OPTIONS'] as const;
const PATTERNS = ['gpt-*', '*', 'gpt-4o', '*mini', 'g*t*', 'claude-*', 'gpt-4o*', 'gpt-4o-mini', 'o1', '*-*'];
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-', 'o1', 'o1-mini', 'claude-3', 'llama', '', 'gpt-4o\n', 'g'];

function randomPath(rng: ReturnType<typeof random>): string {
  const depth = Math.floor(rng.next() * 4);
  let path = '';
  for (let i = 0; i < depth; i++) path += `/${rng.pick(SEGMENTS)}`;
  return path || '/';
}

/** Route rows for one configuration: unique (owner, id), as the table requires. */
function generateRoutes(rng: ReturnType<typeof random>, count: number) {
  const rows: { id: string; tenant_id: string | null; data: Record<string, unknown> }[] = [];
  const taken = new Set<string>();
  for (let n = 0; n < count * 3 && rows.length < count; n++) {
    const tenant = rng.next() < 0.3 ? null : rng.pick(TENANTS);
    const id = rng.next() < 0.7 ? rng.pick(IDS) : `rt_${n}`;
    if (taken.has(`${tenant}/${id}`)) continue;
    taken.add(`${tenant}/${id}`);
    const llm = rng.next() < 0.3;
    const methods = rng.next() < 0.5 ? [] : METHODS.filter(() => rng.next() < 0.4);
    const fields = {
      enabled: rng.next() < 0.9,
      priority: rng.pick([-1, 0, 0, 1, 5]),
      ...(llm
        ? { model_pattern: rng.pick(PATTERNS) }
        : { path_prefix: randomPath(rng) + (rng.next() < 0.2 ? '/' : ''), methods, backend_url: 'http://x.test' }),
    };
    rows.push({ id, tenant_id: tenant, data: routeDefinition.fields.parse(fields) as Record<string, unknown> });
  }
  return rows;
}

/** Replaces every route in the database with `rows` and reloads the snapshot from it. */
async function storeRoutes(t: TestGateway, rows: ReturnType<typeof generateRoutes>): Promise<ConfigSnapshot> {
  const { db, snapshot } = t.gateway;
  await db.deleteFrom('resources').where('kind', '=', 'route').execute();
  for (const r of rows) await insertResource(db, { kind: 'route', ...r, data: { ...r.data, version: 1 } });
  await snapshot.reload();
  return snapshot;
}

const label = (r: RouteState | undefined) => (r ? `${r.tenant_id ?? 'global'}/${r.id}` : 'none');

describe.each(testDialects())('route index against the linear scan (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect);
  });
  afterAll(() => t.close());

  test('HTTP and LLM routes: 30 generated configurations, every request answered alike', async () => {
    let compared = 0;
    let matched = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const rng = random(seed);
      const snapshot = await storeRoutes(t, generateRoutes(rng, 10 + seed * 4));
      const prefixes = (snapshot.all('route') as HttpRoute[]).flatMap((r) => (r.path_prefix ? [r.path_prefix] : []));
      const paths = new Set(['/', '', '*', '//', '/a//b']);
      for (const p of prefixes) for (const tail of ['', '/', 'x', '/x', '/a/b']) paths.add(p + tail);
      for (let i = 0; i < 40; i++) paths.add(randomPath(rng) + rng.pick(['', '/', 'x']));
      for (const path of paths)
        for (const method of METHODS)
          for (const tenant of [null, ...TENANTS, 't4']) {
            const expected = linearHttpMatch(snapshot, method, path, tenant);
            const actual = matchHttpRoute(snapshot, method, path, tenant);
            if (actual !== expected)
              throw new Error(
                `seed ${seed}: ${method} ${path} as ${tenant}: ${label(actual)}, expected ${label(expected)}`,
              );
            compared++;
            if (expected) matched++;
          }
      for (const tenant of [...TENANTS, 't4'])
        for (const model of [undefined, ...MODELS]) {
          const expected = linearLlmRoutes(snapshot, tenant, model);
          const actual = llmRoutes(snapshot, tenant, model);
          expect({ seed, tenant, model, routes: actual.map(label) }).toEqual({
            seed,
            tenant,
            model,
            routes: expected.map(label),
          });
          actual.forEach((r, i) => expect(r).toBe(expected[i]));
          compared++;
        }
    }
    // the generator must produce real work: most requests find a route, and not all
    expect(compared).toBeGreaterThan(20_000);
    expect(matched / compared).toBeGreaterThan(0.3);
    expect(matched / compared).toBeLessThan(0.95);
  }, 120_000);

  test('10,000 HTTP routes: the index answers as the scan does, and an update is seen by the next lookup', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({
      id: `r${i}`,
      tenant_id: i % 3 === 0 ? null : `t${i % 7}`,
      data: routeDefinition.fields.parse({
        path_prefix: `/s${i % 500}/v${i % 20}${i % 11 === 0 ? '/' : ''}`,
        methods: i % 5 === 0 ? ['POST'] : [],
        priority: i % 4,
        backend_url: 'http://x.test',
      }) as Record<string, unknown>,
    }));
    const { db } = t.gateway;
    await db.deleteFrom('resources').where('kind', '=', 'route').execute();
    for (let i = 0; i < rows.length; i += 500)
      await db
        .insertInto('resources')
        .values(
          rows.slice(i, i + 500).map((r) => ({
            kind: 'route',
            id: r.id,
            tenant_id: r.tenant_id,
            data: JSON.stringify({ ...r.data, version: 1 }),
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
          })),
        )
        .execute();
    const snapshot = t.gateway.snapshot;
    const data = await startDataPlane(t); // which keeps the route index built
    await snapshot.reload();
    const rng = random(99);
    for (let i = 0; i < 600; i++) {
      const path = `/s${Math.floor(rng.next() * 520)}/v${Math.floor(rng.next() * 22)}${rng.pick(['', '/', '/x', 'x'])}`;
      const method = rng.pick(METHODS);
      const tenant = rng.pick([null, 't1', 't2', 't5', 't9']);
      expect(label(matchHttpRoute(snapshot, method, path, tenant))).toBe(
        label(linearHttpMatch(snapshot, method, path, tenant)),
      );
    }
    // a change reloads the snapshot and drops the index with its memos; the next lookup sees the new route
    await insertResource(db, {
      kind: 'route',
      id: 'deeper',
      tenant_id: null,
      data: {
        ...routeDefinition.fields.parse({ path_prefix: '/s1/v1/deep', backend_url: 'http://x.test' }),
        version: 1,
      },
    });
    expect(label(matchHttpRoute(snapshot, 'GET', '/s1/v1/deep/x', null))).not.toBe('global/deeper');
    await snapshot.refresh('route', 'deeper');
    const notAtLookup = () => {
      throw new Error('the route index was built at lookup, not when the change was read');
    };
    const rebuilt = snapshot.memo('http-route-index', notAtLookup, ['route']);
    expect(label(matchHttpRoute(snapshot, 'GET', '/s1/v1/deep/x', null))).toBe('global/deeper');

    // a change of another kind (a tenant) keeps the index: only route changes rebuild it
    await insertResource(db, { kind: 'tenant', id: 'acme-idx', tenant_id: null, data: { name: 'Acme', version: 1 } });
    await snapshot.refresh('tenant', 'acme-idx');
    expect(snapshot.get('tenant', 'acme-idx', null)).toBeDefined();
    expect(snapshot.memo('http-route-index', notAtLookup, ['route'])).toBe(rebuilt);
    await data.close();
  }, 120_000);
});
