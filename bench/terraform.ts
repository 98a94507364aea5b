import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { installToMirror } from '../provider/install';
import { startServer } from '../server/app';
import { loadConfig } from '../server/config';
import { providerStartBench, type StartSummary } from './provider-start';

const run = promisify(execFile);
const TOKEN = 'bench-token-0123456789abcdef';

export interface TerraformBenchResult {
  label: string;
  resources: number;
  applySeconds: number;
  planSeconds: number;
  destroySeconds: number;
}

async function timed(dir: string, home: string, args: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  await run('terraform', args, {
    cwd: dir,
    env: { ...process.env, HOME: home, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_CLI_CONFIG_FILE: '' },
    maxBuffer: 256 * 1024 * 1024,
  });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function measure(label: string, count: number, hcl: string, home: string): Promise<TerraformBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-'));
  writeFileSync(join(dir, 'main.tf'), hcl);
  await timed(dir, home, ['init', '-input=false', '-no-color']);
  const applySeconds = await timed(dir, home, ['apply', '-auto-approve', '-input=false', '-no-color']);
  const planSeconds = await timed(dir, home, ['plan', '-input=false', '-no-color', '-detailed-exitcode']);
  const destroySeconds = await timed(dir, home, ['destroy', '-auto-approve', '-input=false', '-no-color']);
  return { label, resources: count, applySeconds, planSeconds, destroySeconds };
}

/**
 * `terraform apply`, `plan` (with refresh) and `destroy` of 200 Portico resources (100 tenants, 100 global routes)
 * against the same count of built-in `terraform_data` resources: the floor Terraform itself costs.
 */
export async function terraformBench(count = 200): Promise<TerraformBenchResult[]> {
  const server = await startServer(
    loadConfig({
      PORTICO_DATA_DIR: 'memory://',
      PORTICO_ADMIN_TOKEN: TOKEN,
      PORTICO_ADMIN_PORT: '0',
      PORTICO_DATA_PORT: '0',
      PORTICO_ROLE: 'control',
    }),
    pino({ level: 'silent' }),
    { webhooks: false },
  );
  try {
    const home = mkdtempSync(join(tmpdir(), 'portico-bench-home-'));
    await installToMirror(home);
    const half = count / 2;
    const portico = `terraform {
  required_providers {
    portico = { source = "portico/portico" }
  }
}
provider "portico" {
  endpoint = "${server.adminUrl}"
  token    = "${TOKEN}"
}
resource "portico_tenant" "t" {
  count = ${half}
  id    = "tenant-\${count.index}"
  name  = "Tenant \${count.index}"
}
resource "portico_route" "r" {
  count         = ${half}
  id            = "route-\${count.index}"
  model_pattern = "model-\${count.index}*"
  providers     = [{ provider = "openai" }]
}
`;
    const floor = `resource "terraform_data" "d" {
  count = ${count}
  input = { id = "d-\${count.index}", name = "Data \${count.index}" }
}
`;
    return [
      await measure('terraform_data (floor)', count, floor, home),
      await measure('portico (tenants + routes)', count, portico, home),
    ];
  } finally {
    await server.close();
  }
}

export interface StartupBenchResult {
  /** The installed provider: exec to its handshake line. */
  provider: StartSummary;
  /** A bare `node` behind the same kind of sh launcher, printing a line: what any Node.js provider costs. */
  bareNode: StartSummary;
  /** `terraform validate` of one resource, median seconds over the runs. */
  validateFloorSeconds: number;
  validatePorticoSeconds: number;
  runs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median seconds of `terraform validate` in an initialised directory holding `hcl`. */
async function validateSeconds(hcl: string, home: string, runs: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-'));
  writeFileSync(join(dir, 'main.tf'), hcl);
  await timed(dir, home, ['init', '-input=false', '-no-color']);
  await timed(dir, home, ['validate', '-no-color']); // warm-up
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) seconds.push(await timed(dir, home, ['validate', '-no-color']));
  return median(seconds);
}

/**
 * Provider start-up (issue 13, items 17 and 19): exec to the handshake line of the installed provider against a bare
 * Node.js, and `terraform validate` of one `portico_tenant` against one `terraform_data`.
 */
export async function startupBench(runs = 20): Promise<StartupBenchResult> {
  const home = mkdtempSync(join(tmpdir(), 'portico-bench-home-'));
  const dir = await installToMirror(home);
  const bare = join(home, 'bare-node');
  writeFileSync(
    bare,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -e 'process.stdout.write("1|6|unix|/tmp/x|grpc|\\n"); ` +
      `process.once("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1e6)'\n`,
  );
  chmodSync(bare, 0o755);
  const bareNode = await providerStartBench(bare, runs);
  const provider = await providerStartBench(join(dir, 'terraform-provider-portico'), runs);
  const portico = `terraform {
  required_providers {
    portico = { source = "portico/portico" }
  }
}
resource "portico_tenant" "t" {
  id   = "acme"
  name = "Acme"
}
`;
  const floor = `resource "terraform_data" "d" {\n  input = { id = "acme", name = "Acme" }\n}\n`;
  const validateFloorSeconds = await validateSeconds(floor, home, Math.ceil(runs / 2));
  const validatePorticoSeconds = await validateSeconds(portico, home, Math.ceil(runs / 2));
  return { provider, bareNode, validateFloorSeconds, validatePorticoSeconds, runs };
}

/** The RESULTS.md section for startupBench. */
export function renderStartup(r: StartupBenchResult): string[] {
  const row = (label: string, s: StartSummary) =>
    `| ${label} | ${s.medianMs.toFixed(0)} | ${s.minMs.toFixed(0)}–${s.maxMs.toFixed(0)} | ${s.medianCpuMs ?? '—'} |`;
  const overValidate = (r.validatePorticoSeconds - r.validateFloorSeconds) * 1000;
  return [
    '## Terraform provider: start-up',
    '',
    `Terraform starts the provider 2–5 times per command. Exec to the handshake line on stdout, as Terraform's go-plugin client starts it (protocol 6, magic cookie, AutoMTLS client certificate), ${r.runs} starts one after the other after one warm-up; CPU is the process's user + system time when the line appears (/proc, 10 ms ticks).`,
    '',
    '| process | median (ms) | range (ms) | CPU, median (ms) |',
    '|---|---|---|---|',
    row('bare node behind a sh launcher (floor)', r.bareNode),
    row('terraform-provider-portico', r.provider),
    '',
    `Target: ≤ 150 ms exec to handshake: ${r.provider.medianMs <= 150 ? 'met' : 'missed'} (median ${r.provider.medianMs.toFixed(0)} ms, ${(r.provider.medianMs - r.bareNode.medianMs).toFixed(0)} ms over bare node).`,
    '',
    `\`terraform validate\` of one resource, median of ${Math.ceil(r.runs / 2)}: terraform_data ${r.validateFloorSeconds.toFixed(2)} s, portico_tenant ${r.validatePorticoSeconds.toFixed(2)} s, ${overValidate.toFixed(0)} ms more (target ≤ 300 ms: ${overValidate <= 300 ? 'met' : 'missed'}).`,
  ];
}
