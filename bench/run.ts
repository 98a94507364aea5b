import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { adminWritesBench, renderAdminWrites } from './admin-writes';
import { BASELINE_HEADING } from './baseline';
import { coldStartBench, renderColdStart } from './cold-start';
import { importBench, renderImport } from './import';
import { policyBench, renderPolicies } from './policies';
import { dataPlaneBench, renderDataPlane } from './proxies';
import { renderRoutes, routeBench } from './routes';
import { renderRevocation, revocationBench } from './revocation';
import { renderSharedLimits, sharedLimitBench } from './shared-limits';
import { renderWorkers, workersBench } from './workers';
import { renderStartup, renderTerraform, startupBench, terraformBench } from './terraform';

const RESULTS = join(__dirname, 'RESULTS.md');

/** The sections of RESULTS.md by their `## ` heading, so a partial run keeps the others. */
function sections(): Map<string, string> {
  const found = new Map<string, string>();
  let text = '';
  try {
    text = readFileSync(RESULTS, 'utf8');
  } catch {
    return found;
  }
  for (const part of text.split(/\n(?=## )/).slice(1)) found.set(part.split('\n')[0]!, part.trimEnd());
  return found;
}

/**
 * `npm run bench [-- terraform|proxies|startup|start|import|policies|admin|routes|workers|limits|revocation]`: runs the
 * benchmarks (all but the optional `routes` and `workers` by default) and rewrites their sections of bench/RESULTS.md
 * with the figures and their peers.
 * `PORTICO_BENCH_BASELINE=<checkout>` runs an older build beside today's in the proxies benchmark and adds a
 * before-and-after section; in the routes benchmark it adds the older build's three rows.
 */
async function main(): Promise<void> {
  const only = process.argv[2];
  const tfVersion = execFileSync('terraform', ['version'], { env: { ...process.env, CHECKPOINT_DISABLE: '1' } })
    .toString()
    .split('\n')[0];
  const kept = sections();
  const fresh: string[][] = [];
  if (!only || only === 'proxies')
    fresh.push(renderDataPlane(await dataPlaneBench((line) => process.stderr.write(`${line}\n`))));
  if (!only || only === 'terraform') fresh.push(renderTerraform(await terraformBench(200)));
  if (!only || only === 'terraform' || only === 'startup') fresh.push(renderStartup(await startupBench()));
  if (!only || only === 'start')
    fresh.push(renderColdStart(await coldStartBench((l) => process.stderr.write(`${l}\n`))));
  if (!only || only === 'import')
    fresh.push(renderImport(await importBench(10_000, (l) => process.stderr.write(`${l}\n`))));
  if (!only || only === 'policies')
    fresh.push(renderPolicies(await policyBench((l) => process.stderr.write(`${l}\n`))));
  if (!only || only === 'admin')
    fresh.push(renderAdminWrites(await adminWritesBench(5, 600, (l) => process.stderr.write(`${l}\n`))));
  // optional: three (or six, with a baseline) Porticos, one with 10,000 routes; run when named
  if (only === 'routes') fresh.push(renderRoutes(await routeBench((l) => process.stderr.write(`${l}\n`))));
  if (!only || only === 'revocation')
    fresh.push(renderRevocation(await revocationBench((l) => process.stderr.write(`${l}\n`))));
  if (!only || only === 'limits')
    fresh.push(renderSharedLimits(await sharedLimitBench((l) => process.stderr.write(`${l}\n`))));
  // optional: Portico with one process and a worker per core beside nginx with as many; run when named
  if (only === 'workers') fresh.push(renderWorkers(await workersBench((l) => process.stderr.write(`${l}\n`))));
  for (const lines of fresh)
    for (const part of lines.join('\n').split(/\n(?=## )/)) kept.set(part.split('\n')[0]!, part.trimEnd());
  const order = [
    '## LLM proxy overhead',
    '## HTTP API proxy throughput',
    BASELINE_HEADING,
    '## Terraform provider: 200 resources',
    '## Terraform provider: start-up',
    '## Config import',
    '## Policies',
    '## Admin writes',
    '## Route matching',
    '## Every core: PORTICO_WORKERS',
    '## Gateway start-up',
    '## Revocation under load',
    '## Shared limits',
  ];
  // Headings may carry a count ("## Config import: 10,000 entities"): a section sorts by the prefix it starts with.
  const rank = (heading: string) => order.findIndex((o) => heading.startsWith(o));
  const body = [...kept.keys()].sort((a, b) => rank(a) - rank(b)).map((k) => kept.get(k)!);
  const header = [
    '# Benchmark results',
    '',
    `Machine of the latest run: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${tfVersion}, \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. A run rewrites only the sections it measured; the others keep their figures, and where they name one, the machine and day they were measured on.`,
    'Everything runs on this one machine over loopback: load generator, mock upstream, and the proxy under test, each its own process.',
    '',
  ];
  const text = `${header.join('\n')}\n${body.join('\n\n')}\n`;
  // a smoke run's figures are too short to read: shown, never written
  if (process.env.PORTICO_BENCH_SMOKE !== '1') writeFileSync(RESULTS, text);
  process.stdout.write(text);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
