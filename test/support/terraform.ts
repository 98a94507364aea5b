import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { installToMirror } from '../../provider/install';
import { startServer, type RunningServer } from '../../server/app';
import { loadConfig } from '../../server/config';
import { createPostgresDatabase, pgliteThreadEnv, type TestDialect } from './databases';
import { testPgliteImage } from './pglite-image';

/**
 * The one way the suites drive Terraform: a gateway listening on loopback for the provider to call
 * (`startGatewayForTerraform`), HCL snippets every configuration starts with, and a working directory
 * (`TerraformDir`) whose commands carry the flags automation needs and whose state can be read back.
 */

const run = promisify(execFile);

/** True when a `terraform` binary is on PATH; REQUIRE_TERRAFORM=1 turns its absence into a failure. */
export function terraformAvailable(): boolean {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    return true;
  } catch {
    if (process.env.REQUIRE_TERRAFORM === '1')
      throw new Error('REQUIRE_TERRAFORM=1 but no terraform binary is on PATH');
    process.stderr.write('notice: terraform is not on PATH; Terraform suites are skipped\n');
    return false;
  }
}

/** The `terraform` block naming our provider, which every configuration needs. */
export const REQUIRED_PROVIDERS = `terraform {
  required_providers {
    portico = { source = "portico/portico" }
  }
}
`;

/** The required provider and a `provider "portico"` block talking to `endpoint` with `token`. */
export function providerHcl(endpoint: string, token: string): string {
  return `${REQUIRED_PROVIDERS}provider "portico" {
  endpoint = "${endpoint}"
  token    = "${token}"
}
`;
}

/** A string variable for a write-only secret: sensitive and ephemeral, so it never reaches state or plan files. */
export function secretVariable(name: string): string {
  return `variable "${name}" {
  type      = string
  sensitive = true
  ephemeral = true
}
`;
}

export interface TerraformGateway {
  server: RunningServer;
  /** The admin API's base URL: what the provider's `endpoint` names. */
  url: string;
  token: string;
  /** `providerHcl` for this gateway: the start of a configuration. */
  hcl: string;
  /** An admin API call with the gateway's token; `body` is the parsed JSON, undefined for an empty answer. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export const TERRAFORM_TOKEN = 'terraform-suite-token-0123456789';

/**
 * Starts a gateway whose admin API listens on a loopback port (Terraform needs a URL, not inject), on PGlite or on a
 * fresh PostgreSQL database. `controlOnly` leaves the data plane off, for suites that count the admin API's requests.
 */
export async function startGatewayForTerraform(
  options: { dialect?: TestDialect; token?: string; controlOnly?: boolean } = {},
): Promise<TerraformGateway> {
  const token = options.token ?? TERRAFORM_TOKEN;
  const pg = options.dialect === 'postgres' ? await createPostgresDatabase('migrated') : undefined;
  const server = await startServer(
    loadConfig({
      PORTICO_DATA_DIR: 'memory://',
      PORTICO_ADMIN_TOKEN: token,
      PORTICO_ADMIN_PORT: '0',
      ...pgliteThreadEnv(),
      ...(options.controlOnly ? { PORTICO_ROLE: 'control' } : { PORTICO_DATA_PORT: '0' }),
      ...(pg ? { DATABASE_URL: pg.url, PORTICO_MASTER_KEY: randomBytes(32).toString('base64') } : {}),
    }),
    pino({ level: 'silent' }),
    { webhooks: false, pgliteImage: testPgliteImage() },
  );
  const url = server.adminUrl!;
  return {
    server,
    url,
    token,
    hcl: providerHcl(url, token),
    async api(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await server.close();
      await pg?.drop();
    },
  };
}

export interface TerraformResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface StateResource {
  mode: 'managed' | 'data';
  type: string;
  name: string;
  instances: { index_key?: number | string; attributes: Record<string, any> }[];
}

/**
 * A Terraform working directory whose HOME holds a freshly installed provider in the implied local mirror, so
 * `terraform init` works with no network, exactly as users get after `npx portico provider install`.
 */
export class TerraformDir {
  readonly dir: string;
  readonly home: string;
  /** `where` runs terraform in an existing directory (a synthesized stack) or with a HOME that has the provider. */
  constructor(
    private readonly env: Record<string, string> = {},
    where: { dir?: string; home?: string } = {},
  ) {
    this.dir = where.dir ?? mkdtempSync(join(tmpdir(), 'portico-tf-'));
    this.home = where.home ?? mkdtempSync(join(tmpdir(), 'portico-home-'));
  }

  /** A directory with the provider installed, `main` as main.tf, and `terraform init` run (asserted to pass cleanly). */
  static async initialised(main: string, env: Record<string, string> = {}): Promise<TerraformDir> {
    const tf = new TerraformDir(env);
    await tf.installProvider();
    tf.write('main.tf', main);
    const init = await tf.init();
    expect([init.code, init.stderr]).toEqual([0, '']);
    return tf;
  }

  async installProvider(): Promise<void> {
    await installToMirror(this.home);
  }

  write(file: string, content: string): void {
    writeFileSync(join(this.dir, file), content);
  }

  async tf(...args: string[]): Promise<TerraformResult> {
    const env = {
      ...process.env,
      HOME: this.home,
      CHECKPOINT_DISABLE: '1',
      TF_IN_AUTOMATION: '1',
      TF_CLI_CONFIG_FILE: '',
      ...this.env,
    };
    try {
      const { stdout, stderr } = await run('terraform', args, { cwd: this.dir, env, maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  init(...args: string[]): Promise<TerraformResult> {
    return this.tf('init', '-input=false', '-no-color', ...args);
  }

  validate(): Promise<TerraformResult> {
    return this.tf('validate', '-no-color');
  }

  /** A plan with detailed exit codes: 0 nothing to do, 1 an error, 2 changes. */
  plan(...args: string[]): Promise<TerraformResult> {
    return this.tf('plan', '-detailed-exitcode', '-input=false', '-no-color', ...args);
  }

  apply(...args: string[]): Promise<TerraformResult> {
    return this.tf('apply', '-auto-approve', '-input=false', '-no-color', ...args);
  }

  destroy(...args: string[]): Promise<TerraformResult> {
    return this.tf('destroy', '-auto-approve', '-input=false', '-no-color', ...args);
  }

  import(address: string, id: string): Promise<TerraformResult> {
    return this.tf('import', '-input=false', '-no-color', address, id);
  }

  stateRm(address: string): Promise<TerraformResult> {
    return this.tf('state', 'rm', address);
  }

  /** The state file as written (to check what it must not hold); a CDKTF stack names its own file. */
  stateText(file = 'terraform.tfstate'): string {
    return readFileSync(join(this.dir, file), 'utf8');
  }

  resources(file?: string): StateResource[] {
    return JSON.parse(this.stateText(file)).resources;
  }

  /**
   * The attributes in state of `type.name`, `type.name[index]` or `data.type.name`; undefined when absent. A bare
   * type (no name) finds the first resource of that type.
   */
  // any: each kind has its own attributes, and the suites read them as they please
  attributes(address: string): any {
    const data = address.startsWith('data.');
    const [, type, name, index] = /^(?:data\.)?([^.[]+)(?:\.([^[]+))?(?:\[(\d+)\])?$/.exec(address) ?? [];
    const found = this.resources().find(
      (r) => r.mode === (data ? 'data' : 'managed') && r.type === type && (name === undefined || r.name === name),
    );
    return found?.instances[index === undefined ? 0 : Number(index)]?.attributes;
  }

  /** The root module's outputs, as `{name: value}`. */
  async outputs(): Promise<Record<string, unknown>> {
    const shown = JSON.parse((await this.tf('output', '-json')).stdout) as Record<string, { value: unknown }>;
    return Object.fromEntries(Object.entries(shown).map(([name, output]) => [name, output.value]));
  }

  /** Resource changes of a fresh plan, as `{address: actions}` (from `terraform show -json`). */
  async planActions(): Promise<Record<string, string[]>> {
    const plan = await this.tf('plan', '-input=false', '-no-color', '-out=tfplan');
    if (plan.code !== 0) throw new Error(`plan failed:\n${plan.stderr}${plan.stdout}`);
    const shown = await this.tf('show', '-json', 'tfplan');
    const doc = JSON.parse(shown.stdout) as { resource_changes?: { address: string; change: { actions: string[] } }[] };
    return Object.fromEntries(
      (doc.resource_changes ?? [])
        .filter((c) => c.change.actions.join() !== 'no-op')
        .map((c) => [c.address, c.change.actions]),
    );
  }

  /** Asserts that a re-plan finds nothing to do: exit code 0 and "No changes". */
  async expectEmptyPlan(...args: string[]): Promise<TerraformResult> {
    const plan = await this.plan(...args);
    expect([plan.code, plan.stdout]).toEqual([0, expect.stringContaining('No changes')]);
    return plan;
  }

  /** Asserts that `address` leaves the state and comes back by `terraform import` of `id`. */
  async expectReimported(address: string, id: string): Promise<void> {
    expect([address, (await this.stateRm(address)).code]).toEqual([address, 0]);
    const imported = await this.import(address, id);
    expect([address, imported.stdout]).toEqual([address, expect.stringContaining('Import successful')]);
  }
}
