import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { installToMirror } from '../../provider/install';

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

export interface TerraformResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A Terraform working directory whose HOME holds a freshly installed provider in the implied local mirror, so
 * `terraform init` works with no network, exactly as users get after `npx portico provider install`.
 */
export class TerraformDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'portico-tf-'));
  readonly home = mkdtempSync(join(tmpdir(), 'portico-home-'));
  constructor(private readonly env: Record<string, string> = {}) {}

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
}
