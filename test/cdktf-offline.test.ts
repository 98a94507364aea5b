import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findInstalledProvider, LOCK_FILE, packageHashV1 } from '../constructs/lock-file';
import { CDKTF, cdktfEnv, exec, TSX } from './support/cdktf';
import {
  REQUIRED_PROVIDERS,
  startGatewayForTerraform,
  TerraformDir,
  terraformAvailable,
  type TerraformGateway,
} from './support/terraform';

/**
 * Issue 13, item 9: the first `cdktf deploy` / `diff` / `destroy` work offline with no flags. PorticoProvider writes
 * the stack's `.terraform.lock.hcl` for the installed provider at synth, so cdktf skips `terraform providers lock`
 * (which asks the public registry), and `terraform init` accepts the hash as its own.
 */

const ROOT = join(__dirname, '..');

/** The hashes terraform itself records for the portico provider in a lock file. */
const lockedHashes = (lockFile: string) =>
  [...readFileSync(lockFile, 'utf8').matchAll(/"(h1:[^"]+)"/g)].map((m) => m[1]);

/** Synthesizes a one-stack app in this process with HOME set to `home` (where the provider is looked for). */
async function synthWithHome(home: string, outdir: string): Promise<string> {
  const c = await import('../constructs');
  const saved = process.env.HOME;
  process.env.HOME = home;
  try {
    const app = new c.App({ outdir });
    const stack = new c.TerraformStack(app, 'team');
    new c.PorticoProvider(stack, 'portico', {});
    new c.Tenant(stack, 'team', { id: 'team', name: 'Team' });
    app.synth();
  } finally {
    process.env.HOME = saved;
  }
  return join(outdir, 'stacks', 'team');
}

const haveTerraform = terraformAvailable();
(haveTerraform ? describe : describe.skip)('cdktf first contact: offline, no flags, fresh HOME', () => {
  let home: string;
  let gw: TerraformGateway;

  beforeAll(async () => {
    const tf = new TerraformDir();
    await tf.installProvider();
    home = tf.home;
    gw = await startGatewayForTerraform();
  }, 120_000);
  afterAll(() => gw?.close());

  test("the hash written is terraform's own for the installed package (h1, Go's dirhash)", async () => {
    const tf = new TerraformDir();
    await tf.installProvider();
    tf.write('main.tf', REQUIRED_PROVIDERS);
    expect((await tf.init()).code).toBe(0);
    const installed = findInstalledProvider(tf.home)!;
    expect(installed.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(lockedHashes(join(tf.dir, LOCK_FILE))).toEqual([packageHashV1(installed.dir)]);
  }, 120_000);

  test("synth writes the stack's lock file; other providers' blocks stay, a stale portico block is replaced", async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'portico-cdktf-'));
    const stackDir = join(outdir, 'stacks', 'team');
    mkdirSync(stackDir, { recursive: true });
    const other = 'provider "registry.terraform.io/hashicorp/random" {\n  version = "3.6.0"\n}\n';
    const stale =
      'provider "registry.terraform.io/portico/portico" {\n  version = "0.0.1"\n  hashes = [\n    "h1:old=",\n  ]\n}\n';
    writeFileSync(join(stackDir, LOCK_FILE), `${other}\n${stale}`);
    await synthWithHome(home, outdir);
    const lock = readFileSync(join(stackDir, LOCK_FILE), 'utf8');
    const installed = findInstalledProvider(home)!;
    expect(lock).toContain(other);
    expect(lock).not.toContain('h1:old=');
    expect(lock).toContain(`version     = "${installed.version}"`);
    expect(lock).toContain('constraints = ">= 0.1.0"'); // the stack's required_providers version, as terraform writes it
    expect(lockedHashes(join(stackDir, LOCK_FILE))).toEqual([packageHashV1(installed.dir)]);
  });

  test('without an installed provider synth writes no lock file and warns, naming the install command', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'portico-cdktf-'));
    const stackDir = await synthWithHome(mkdtempSync(join(tmpdir(), 'portico-empty-home-')), outdir);
    expect(existsSync(join(stackDir, LOCK_FILE))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
    expect(manifest.stacks.team.annotations).toEqual([
      expect.objectContaining({
        level: '@cdktf/warn',
        message: expect.stringContaining('npx portico provider install'),
      }),
    ]);
  });

  test('plain cdktf deploy, diff, deploy again and destroy of the example stacks, with nothing but HOME set', async () => {
    const dir = new TerraformDir().dir;
    writeFileSync(
      join(dir, 'cdktf.json'),
      JSON.stringify({ language: 'typescript', app: `node ${TSX} ${join(ROOT, 'stacks', 'main.ts')}` }),
    );
    const cdktf = (...args: string[]) => exec(CDKTF, args, dir, cdktfEnv(home, gw));
    const api = async (path: string) => (await gw.api('GET', path)).body;

    const synth = await cdktf('synth');
    expect(synth.out).toContain('Generated Terraform code for the stacks: platform, tenant-acme');
    const stack = JSON.parse(readFileSync(join(dir, 'cdktf.out', 'stacks', 'tenant-acme', 'cdk.tf.json'), 'utf8'));
    expect(stack.terraform.required_providers.portico.source).toBe('portico/portico');

    const deploy = await cdktf('deploy', '*', '--auto-approve');
    expect([deploy.code, deploy.out]).toEqual([0, expect.stringMatching(/Apply complete! Resources: 5 added/)]);
    expect(deploy.out).not.toMatch(/providers lock|registry\.terraform\.io\/portico\/portico: could not/);
    expect(deploy.out).toMatch(/Apply complete! Resources: 3 added/);
    expect((await api('/v1/admin/routes/global-gpt')).strategy).toBe('fallback');
    expect((await api('/v1/admin/tenants/acme/keys')).data.map((k: any) => k.name).sort()).toEqual([
      'production',
      'staging',
    ]);
    const installed = findInstalledProvider(home)!;
    for (const stack of ['platform', 'tenant-acme'])
      expect(lockedHashes(join(dir, 'cdktf.out', 'stacks', stack, LOCK_FILE))).toEqual([packageHashV1(installed.dir)]);

    const diff = await cdktf('diff', 'tenant-acme');
    expect([diff.code, diff.out]).toEqual([0, expect.stringContaining('No changes')]);
    const again = await cdktf('deploy', '*', '--auto-approve');
    expect(again.out.match(/No changes\. Your infrastructure matches the configuration/g)).toHaveLength(2);

    const destroy = await cdktf('destroy', '*', '--auto-approve');
    expect([destroy.code, destroy.out]).toEqual([0, expect.stringMatching(/Destroy complete!/)]);
    expect((await api('/v1/admin/tenants')).data).toEqual([]);
    expect((await api('/v1/admin/routes')).data).toEqual([]);

    // a lock file holding another hash (as one from an earlier install of the provider would): the next synth puts
    // the installed package's hash in, so init does not fail on a checksum mismatch
    const lockFile = join(dir, 'cdktf.out', 'stacks', 'tenant-acme', LOCK_FILE);
    writeFileSync(
      lockFile,
      readFileSync(lockFile, 'utf8').replace(/"h1:[^"]+"/, '"h1:c3RhbGUgaGFzaCBvZiBhbiBvbGRlciBpbnN0YWxs"'),
    );
    const stale = await cdktf('diff', 'tenant-acme');
    expect([stale.code, stale.out]).toEqual([0, expect.stringContaining('Plan: 5 to add')]);
    expect(lockedHashes(lockFile)).toEqual([packageHashV1(installed.dir)]);
  }, 400_000);
});
