import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE } from '../constructs/lock-file';
import { CDKTF, cdktfEnv, exec } from './support/cdktf';
import { startGatewayForTerraform, terraformAvailable, type TerraformGateway } from './support/terraform';

/**
 * Issue 13, items 10 and 12: the project packed with `npm pack` installs into an ordinary cdktf TypeScript app (the
 * cdktf template's tsconfig: strict tsc) and into one built on cdktn, the maintained fork; each builds, installs the
 * provider with `npx portico provider install` into a fresh HOME, and deploys with plain cdktf commands.
 * The apps install from the npm registry with the cache preferred; the project's own dependencies are cached already.
 */

const ROOT = join(__dirname, '..');
const TEMPLATE_TSCONFIG = join(ROOT, 'node_modules', 'cdktf-cli', 'bundle', 'templates', 'typescript', 'tsconfig.json');

/** A stack as an app's own code would write it: `library` is the CDK library the app is built on. */
const appSource = (library: 'cdktf' | 'cdktn', tenantId: string) => `import { Construct } from "constructs";
import { App, TerraformStack, TerraformOutput } from "${library}";
import { PorticoProvider, Tenant, ApiKey, CDK_LIBRARY } from "portico/constructs";

class Team extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new PorticoProvider(this, "portico", {});
    const tenant = new Tenant(this, "tenant", { id: "${tenantId}", name: process.env.TENANT_NAME ?? "Acme Corp" });
    const key = new ApiKey(this, "key", { tenantId: tenant.id, name: "production-key" });
    new TerraformOutput(this, "key_prefix", { value: key.prefix });
  }
}

const app = new App();
new Team(app, "team");
app.synth();
process.stderr.write("portico/constructs on " + CDK_LIBRARY + "\\n");
`;

/** What `cdktf init --template=typescript` adds for building and running the app (less its jest). */
const TEMPLATE_DEV_DEPENDENCIES = { typescript: '~5.9.3', 'ts-node': '^10.9.2', '@types/node': '^20.19.43' };

/**
 * A fresh app directory as the cdktf TypeScript template makes it (its tsconfig, its dev dependencies) with
 * `dependencies` installed by npm. cdktf runs the app compiled (`node main.js`, after the template's `tsc`), which is
 * quicker than its ts-node for each command; ts-node is checked once.
 */
async function makeApp(dependencies: Record<string, string>, source: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-app-'));
  const pkg = {
    name: 'app',
    version: '1.0.0',
    private: true,
    dependencies,
    devDependencies: TEMPLATE_DEV_DEPENDENCIES,
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  copyFileSync(TEMPLATE_TSCONFIG, join(dir, 'tsconfig.json'));
  writeFileSync(join(dir, 'main.ts'), source);
  writeFileSync(join(dir, 'cdktf.json'), JSON.stringify({ language: 'typescript', app: 'node main.js' }));
  const install = await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], dir);
  if (install.code !== 0) throw new Error(`npm install failed in ${dir}:\n${install.out}`);
  return dir;
}

const haveTerraform = terraformAvailable();
(haveTerraform ? describe : describe.skip)('portico as an installed package: npm pack, then fresh apps', () => {
  let tarball: string;
  let gw: TerraformGateway;
  const api = async (path: string) => (await gw.api('GET', path)).body;

  /** The user's steps in `dir` from a fresh HOME: build (strict tsc), install the provider, then plain cdktf. */
  async function firstContact(dir: string) {
    const home = mkdtempSync(join(tmpdir(), 'portico-home-'));
    const env = cdktfEnv(home, gw);
    const build = await exec('npx', ['--no-install', 'tsc'], dir); // the template's `npm run build`
    expect([build.code, build.out]).toEqual([0, '']);
    // the template's own way to run the app (cdktf.json "app": "npx ts-node main.ts"): type-checks and synthesizes
    const tsNode = await exec('npx', ['--no-install', 'ts-node', 'main.ts'], dir, {
      ...env,
      CDKTF_OUTDIR: 'ts-node.out',
    });
    expect([tsNode.code, existsSync(join(dir, 'ts-node.out', 'stacks', 'team', 'cdk.tf.json'))]).toEqual([0, true]);
    const install = await exec('npx', ['--no-install', 'portico', 'provider', 'install'], dir, env);
    expect([install.code, install.out]).toEqual([0, expect.stringContaining('Installed portico/portico')]);
    return {
      cdktf: (args: string[], extra: Record<string, string> = {}) => exec(CDKTF, args, dir, { ...env, ...extra }),
    };
  }

  beforeAll(async () => {
    const packDir = mkdtempSync(join(tmpdir(), 'portico-pack-'));
    // `npm pack` runs `prepare`, which builds dist/constructs
    const pack = await exec('npm', ['pack', '--pack-destination', packDir], ROOT);
    if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.out}`);
    tarball = join(packDir, `portico-${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}.tgz`);
    gw = await startGatewayForTerraform();
  }, 180_000);
  afterAll(() => gw?.close());

  test('the tarball holds compiled JS and .d.ts for the constructs, and the CLI; no TypeScript source of them', async () => {
    const listing = await exec('tar', ['-tzf', tarball], ROOT);
    const files = listing.out.split('\n');
    expect(files).toEqual(
      expect.arrayContaining([
        'package/dist/constructs/index.js',
        'package/dist/constructs/index.d.ts',
        'package/dist/constructs/generated/tenant.d.ts',
        'package/cli/portico.js',
        'package/provider/install.ts',
      ]),
    );
    expect(files.filter((f) => f.startsWith('package/constructs/') || f.startsWith('package/test/'))).toEqual([]);
  });

  test('a cdktf app (template tsconfig, strict tsc): deploy, clean diff, in-place rename, destroy, no flags', async () => {
    const dir = await makeApp(
      { cdktf: '^0.21.0', constructs: '^10.4.2', portico: `file:${tarball}` },
      appSource('cdktf', 'acme-corp'),
    );
    const { cdktf } = await firstContact(dir);

    const deploy = await cdktf(['deploy', 'team', '--auto-approve']);
    expect([deploy.code, deploy.out]).toEqual([0, expect.stringContaining('Apply complete! Resources: 2 added')]);
    expect(deploy.out).toContain('portico/constructs on cdktf');
    expect(existsSync(join(dir, 'cdktf.out', 'stacks', 'team', LOCK_FILE))).toBe(true);
    const diff = await cdktf(['diff', 'team']);
    expect([diff.code, diff.out]).toEqual([0, expect.stringContaining('No changes')]);

    const renamed = await cdktf(['diff', 'team'], { TENANT_NAME: 'Acme Corporation' });
    expect(renamed.out).toMatch(/portico_tenant\.tenant.*will be updated in-place/);
    expect(renamed.out).not.toMatch(/must be replaced/);
    const apply = await cdktf(['deploy', 'team', '--auto-approve'], { TENANT_NAME: 'Acme Corporation' });
    expect(apply.out).toContain('Apply complete! Resources: 0 added, 1 changed, 0 destroyed');
    expect((await api('/v1/admin/tenants/acme-corp')).name).toBe('Acme Corporation');

    const destroy = await cdktf(['destroy', 'team', '--auto-approve'], { TENANT_NAME: 'Acme Corporation' });
    expect([destroy.code, destroy.out]).toEqual([0, expect.stringContaining('Destroy complete!')]);
    expect((await api('/v1/admin/tenants/acme-corp')).error.code).toBe('NOT_FOUND');
  }, 400_000);

  test('a cdktn app: the constructs extend cdktn (no cdktf installed); strict tsc, deploy, clean diff, destroy; then with both', async () => {
    // cdktn 0.24 wants constructs below 10.8
    const dir = await makeApp(
      { cdktn: '^0.24.0', constructs: '>=10.6.0 <10.8.0', portico: `file:${tarball}` },
      appSource('cdktn', 'fork-corp'),
    );
    expect(existsSync(join(dir, 'node_modules', 'cdktf'))).toBe(false);
    const { cdktf } = await firstContact(dir);

    const deploy = await cdktf(['deploy', 'team', '--auto-approve']);
    expect([deploy.code, deploy.out]).toEqual([0, expect.stringContaining('Apply complete! Resources: 2 added')]);
    expect(deploy.out).toContain('portico/constructs on cdktn');
    const stack = JSON.parse(readFileSync(join(dir, 'cdktf.out', 'stacks', 'team', 'cdk.tf.json'), 'utf8'));
    expect(stack['//'].metadata.version).toBe(
      JSON.parse(readFileSync(join(dir, 'node_modules', 'cdktn', 'package.json'), 'utf8')).version,
    );
    expect((await api('/v1/admin/tenants/fork-corp/keys')).data.map((k: any) => k.name)).toEqual(['production-key']);
    const diff = await cdktf(['diff', 'team']);
    expect([diff.code, diff.out]).toEqual([0, expect.stringContaining('No changes')]);

    const destroy = await cdktf(['destroy', 'team', '--auto-approve']);
    expect([destroy.code, destroy.out]).toEqual([0, expect.stringContaining('Destroy complete!')]);
    expect((await api('/v1/admin/tenants/fork-corp')).error.code).toBe('NOT_FOUND');

    // with cdktf installed too, the constructs still follow the library the app loaded; forced onto the other one,
    // they refuse in words rather than with cdktf's "_resetResolveDiscoveredProviderFeatureUsage is not a function"
    const cdktfToo = await exec(
      'npm',
      ['install', '--no-save', '--prefer-offline', '--no-audit', 'cdktf@^0.21.0'],
      dir,
    );
    expect([cdktfToo.code, existsSync(join(dir, 'node_modules', 'cdktf'))]).toEqual([0, true]);
    const both = await exec(process.execPath, ['main.js'], dir, { ...process.env, CDKTF_OUTDIR: 'both.out' });
    expect([both.code, both.out]).toEqual([0, expect.stringContaining('portico/constructs on cdktn')]);
    const forced = { ...process.env, CDKTF_OUTDIR: 'forced.out', PORTICO_CDK_LIBRARY: 'cdktf' };
    const mixed = await exec(process.execPath, ['main.js'], dir, forced);
    expect(mixed.code).not.toBe(0);
    expect(mixed.out).toContain('portico/constructs use cdktf, but the stack team is not a cdktf TerraformStack');
  }, 400_000);
});
