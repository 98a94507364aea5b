import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ProcessGroup } from './processes';

const TOKEN = 'bench-owner-token-0123456789abcdef';
/** One master key for every bench node, so nodes sharing a database read each other's sealed secrets. */
const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

/** A Portico under test: where its data plane listens, a tenant key for it, and its process id. */
export interface RunningPortico {
  data: string;
  key: string;
  pid: number;
  /** Its admin API, and the owner token for it (benchmarks that configure more: bench/policies.ts). */
  admin: string;
  token: string;
}

/** A checkout of Portico to run: its folder and the commit it holds. */
export interface Checkout {
  dir: string;
  commit: string;
}

const commitOf = (dir: string) => execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD']).toString().trim();

/** This checkout: the build under test. */
export const currentCheckout = (): Checkout => {
  const dir = join(__dirname, '..');
  return { dir, commit: commitOf(dir) };
};

/**
 * The older build to compare with, from `PORTICO_BENCH_BASELINE=<dir>` (a checkout whose node_modules resolve), or
 * undefined when it is not set. A folder without `cli/portico.js` is an error, not a silent run without it.
 */
export function baselineCheckout(env: NodeJS.ProcessEnv = process.env): Checkout | undefined {
  const setting = env.PORTICO_BENCH_BASELINE;
  if (!setting) return undefined;
  const dir = resolve(setting);
  if (!existsSync(join(dir, 'cli/portico.js')))
    throw new Error(`PORTICO_BENCH_BASELINE=${setting}: no cli/portico.js there (a Portico checkout is expected)`);
  return { dir, commit: commitOf(dir) };
}

/**
 * Portico as it ships (`node <checkout>/cli/portico.js serve`), configured over its admin API with one tenant and
 * key, an OpenAI credential and price, an LLM route and an HTTP route; returns its data URL and the key. The calls
 * are the admin API of every build since 7816f88 at least, so an older checkout gets the same configuration.
 * `nodeArgs` go to node before the script (`--cpu-prof`, which NODE_OPTIONS does not take); `extraEnv` adds settings.
 */
export async function startPortico(
  group: ProcessGroup,
  checkout: Checkout,
  databaseUrl: string | undefined,
  mock: string,
  nodeArgs: string[] = [],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<RunningPortico> {
  const env = {
    PORTICO_WORKERS: '1', // one process unless asked (with PostgreSQL the default is a worker per core)
    ...extraEnv,
    PORTICO_ADMIN_TOKEN: TOKEN,
    PORTICO_ADMIN_PORT: '0',
    PORTICO_DATA_PORT: '0',
    PORTICO_LOG_LEVEL: 'info',
    ...(databaseUrl
      ? { DATABASE_URL: databaseUrl, PORTICO_MASTER_KEY: MASTER_KEY }
      : { PORTICO_DATA_DIR: 'memory://' }),
  };
  const m = await group.start(
    'node',
    [...nodeArgs, join(checkout.dir, 'cli/portico.js'), 'serve'],
    /"admin":"(http:[^"]+)","data":"(http:[^"]+)"/,
    env,
  );
  const [admin, data] = [m[1]!, m[2]!];
  const post = async (path: string, body: unknown) => {
    const res = await fetch(admin + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`${checkout.commit} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  await post('/v1/admin/tenants', { id: 'bench', name: 'Bench' });
  const key = (await post('/v1/admin/tenants/bench/keys', { name: 'bench' })).key as string;
  await post('/v1/admin/credentials', { provider: 'openai', api_key: 'sk-bench-0123456789' });
  await post('/v1/admin/pricing', {
    provider: 'openai',
    model: 'gpt-4o-mini',
    input_per_million_usd: 0.15,
    output_per_million_usd: 0.6,
  });
  await post('/v1/admin/routes', {
    id: 'llm',
    model_pattern: 'gpt-*',
    providers: [{ provider: 'openai', base_url: `${mock}/v1` }],
  });
  await post('/v1/admin/routes', {
    id: 'svc',
    path_prefix: '/svc',
    backend_url: mock,
    strip_prefix: true,
    rate_limit: { limit: 1_000_000_000, window_secs: 60 },
  });
  await new Promise((r) => setTimeout(r, 500)); // the snapshot picks the changes up
  return { data, key, pid: m.pid, admin, token: TOKEN };
}

/**
 * One more node on the database of a Portico started above, serving what that one was configured with: a data node
 * (`PORTICO_ROLE=data`, no admin port) by default. Returns its URLs and process id.
 */
export async function startNode(
  group: ProcessGroup,
  checkout: Checkout,
  databaseUrl: string,
  extraEnv: NodeJS.ProcessEnv = {},
  role: 'data' | 'all' = 'data',
): Promise<{ data: string; admin?: string; pid: number; token: string }> {
  const env = {
    PORTICO_WORKERS: '1', // one process unless asked (with PostgreSQL the default is a worker per core)
    ...extraEnv,
    PORTICO_ROLE: role,
    PORTICO_ADMIN_TOKEN: TOKEN,
    PORTICO_ADMIN_PORT: '0',
    PORTICO_DATA_PORT: '0',
    PORTICO_LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    PORTICO_MASTER_KEY: MASTER_KEY,
  };
  const ready = role === 'data' ? /"data":"(http:[^"]+)"/ : /"admin":"(http:[^"]+)","data":"(http:[^"]+)"/;
  const m = await group.start('node', [join(checkout.dir, 'cli/portico.js'), 'serve'], ready, env);
  return role === 'data'
    ? { data: m[1]!, pid: m.pid, token: TOKEN }
    : { admin: m[1]!, data: m[2]!, pid: m.pid, token: TOKEN };
}
