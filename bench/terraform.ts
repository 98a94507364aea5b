import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { installToMirror } from '../provider/install';
import { startServer } from '../server/app';
import { loadConfig } from '../server/config';

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
