import { join } from 'node:path';
import { treeCpuMicros } from './cpu';
import { measureLoad, warmUp, type LoadResult, type LoadSpec } from './load';
import { currentCheckout, startPortico, type RunningPortico } from './portico';
import { ProcessGroup } from './processes';

/**
 * Policies on the hot path (issue 15): two Porticos of this build side by side, one with no policies, one with 1,000
 * tenants and 100 ACTIVE policies of mixed types (rate limit, quota, CORS, IP filter, guardrail) spread over them,
 * 10 of which cover the measured tenant's traffic (5 global, 5 its own). Both proxies, interleaved rounds, medians.
 */

const ROOT = join(__dirname, '..');
const SMOKE = process.env.PORTICO_BENCH_SMOKE === '1';
const [SECONDS, WARMUP_SECONDS, ROUNDS] = SMOKE ? [1, 0.5, 1] : [5, 2, 6];
const TENANTS = 1000;
const POLICIES = 100;
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });

/** A policy body per type, permissive enough that the measured traffic passes every one. */
const BODIES: Record<string, string> = {
  rate_limit: 'limit: 1000000000\nwindow_secs: 60\n',
  quota: 'limit: 1000000000\nperiod: day\n',
  cors: 'allow_origins: ["*"]\n',
  ip_filter: 'allow: [127.0.0.0/8, "::1/128"]\ndeny: [203.0.113.0/24]\n',
  guardrail:
    'rules:\n  - pattern: "sk-[a-z0-9]{20,}"\n    action: redact\n  - pattern: "DROP TABLE"\n    action: block\n',
};
const TYPES = Object.keys(BODIES);

async function call(p: RunningPortico, method: string, path: string, body: unknown, expect: number): Promise<any> {
  const res = await fetch(p.admin + path, {
    method,
    headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== expect) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** 1,000 tenants (one config import) and 100 policies over them, each made ACTIVE through the API. */
async function configurePolicies(p: RunningPortico): Promise<void> {
  const tenants = Array.from({ length: TENANTS - 1 }, (_, i) => ({ id: `t-${i}`, name: `Tenant ${i}` }));
  await call(p, 'POST', '/v1/admin/config/import?mode=merge', { tenants }, 200);
  for (let i = 0; i < POLICIES; i++) {
    const type = TYPES[i % TYPES.length]!;
    // 5 global and 5 of the measured tenant cover its traffic; the other 90 belong to other tenants
    const owner = i < 5 ? null : i < 10 ? 'bench' : `t-${(i * 37) % (TENANTS - 1)}`;
    const policy = await call(
      p,
      'POST',
      '/v1/admin/policies',
      {
        id: `bench-${i}`,
        name: `${type} ${i}`,
        type,
        priority: i % 7,
        ...(owner ? { tenant_id: owner } : { target: 'global' }),
        body: BODIES[type],
      },
      201,
    );
    const q = owner ? `?tenant_id=${owner}` : '';
    await call(p, 'POST', `/v1/admin/policies/${policy.id}/status${q}`, { status: 'ACTIVE' }, 200);
  }
  await new Promise((r) => setTimeout(r, 1000)); // the snapshot picks the changes up
}

export interface PolicyRow extends LoadResult {
  path: 'http' | 'llm';
  target: 'no policies' | '100 policies';
}

export async function policyBench(log: (line: string) => void = () => {}): Promise<PolicyRow[]> {
  const group = new ProcessGroup();
  try {
    const mock = await group.start('node', [join(ROOT, 'bench/fixtures/mock-upstream.js')], /port=(\d+)/);
    const mockUrl = `http://127.0.0.1:${mock[1]}`;
    const now = currentCheckout();
    const plain = await startPortico(group, now, undefined, mockUrl);
    const governed = await startPortico(group, now, undefined, mockUrl);
    await configurePolicies(governed);
    const targets = [
      { name: 'no policies' as const, p: plain },
      { name: '100 policies' as const, p: governed },
    ];
    const loads = (p: RunningPortico): Record<'http' | 'llm', LoadSpec> => ({
      http: { url: `${p.data}/svc/items`, headers: { authorization: `Bearer ${p.key}` }, connections: 64 },
      llm: {
        url: `${p.data}/v1/chat/completions`,
        method: 'POST',
        headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/json' },
        body: CHAT,
        connections: 16,
      },
    });
    for (const { p } of targets) for (const spec of Object.values(loads(p))) await warmUp(spec, WARMUP_SECONDS * 2);
    const rows: PolicyRow[] = [];
    for (const path of ['http', 'llm'] as const) {
      const measured: PolicyRow[][] = [[], []];
      for (let round = 0; round < ROUNDS; round++)
        for (let k = 0; k < targets.length; k++) {
          const i = (k + round) % targets.length; // each takes each place in turn
          const { name, p } = targets[i]!;
          const result = await measureLoad(loads(p)[path], SECONDS, WARMUP_SECONDS, () => treeCpuMicros(p.pid));
          const row = { path, target: name, ...result };
          measured[i]!.push(row);
          log(
            `policies ${path} round ${round + 1} ${name}: ${Math.round(row.rps)} req/s, p50 ${row.p50.toFixed(2)} ms`,
          );
          if (row.non2xx || row.errors) throw new Error(`${name} ${path}: ${row.non2xx} non-2xx, ${row.errors} errors`);
        }
      for (const m of measured) rows.push([...m].sort((a, b) => a.rps - b.rps)[Math.floor(m.length / 2)]!);
    }
    return rows;
  } finally {
    await group.stopAll();
  }
}

export function renderPolicies(rows: PolicyRow[]): string[] {
  const ratio = (path: 'http' | 'llm') => {
    const [a, b] = ['no policies', '100 policies'].map((t) => rows.find((r) => r.path === path && r.target === t)!);
    return `${(((b!.rps - a!.rps) / a!.rps) * 100).toFixed(1)}%`;
  };
  const cpu = (path: 'http' | 'llm') => {
    const [a, b] = ['no policies', '100 policies'].map((t) => rows.find((r) => r.path === path && r.target === t)!);
    if (a!.cpuPerRequest === undefined || b!.cpuPerRequest === undefined) return '–';
    return `${(((b!.cpuPerRequest - a!.cpuPerRequest) / a!.cpuPerRequest) * 100).toFixed(1)}%`;
  };
  return [
    `## Policies: 100 ACTIVE over ${TENANTS.toLocaleString('en-US')} tenants`,
    '',
    `Two Porticos of this build on embedded PGlite, side by side, against the mock upstream: one with no policies, one with ${TENANTS.toLocaleString('en-US')} tenants and ${POLICIES} ACTIVE policies (rate limit, quota, CORS, IP filter, guardrail in turn; 5 global and 5 of the measured tenant cover its calls, 90 belong to other tenants). ${ROUNDS} interleaved rounds of ${SECONDS} s, the median shown. Policies are compiled once per snapshot version (\`server/data/policy-hook.ts\`).`,
    '',
    '| path | build | connections | req/s | p50 (ms) | p99 (ms) | CPU per request (µs) |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.path === 'http' ? 'HTTP proxy' : 'LLM proxy'} | ${r.target} | ${r.path === 'http' ? 64 : 16} | ${Math.round(r.rps)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuPerRequest === undefined ? '–' : Math.round(r.cpuPerRequest)} |`,
    ),
    '',
    `Throughput with policies against without: HTTP proxy ${ratio('http')}, LLM proxy ${ratio('llm')} (target: within 10%); CPU per request: HTTP proxy ${cpu('http')}, LLM proxy ${cpu('llm')}.`,
    'In-process micro-measurements put the evaluation of the six policies at 0.9 µs per request and the limiter with',
    "four policy rules beside the route's at 1.5 µs (0.4 µs with the route's alone); the CPU per request measured here",
    'moves more than that (request objects, headers, the 1,000-tenant configuration, and the noise of a shared machine).',
  ];
}
