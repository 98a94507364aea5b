import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { generateConstructs, GENERATED_DIR } from '../constructs/generate';
import { DOCS_DIR, generateDocs } from '../provider/docs';
import { startServer, type RunningServer } from '../server/app';
import { loadConfig } from '../server/config';
import { testPgliteImage } from './support/pglite-image';
import { TerraformDir, terraformAvailable } from './support/terraform';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
const CDKTF = join(ROOT, 'node_modules', '.bin', 'cdktf');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const TOKEN = 'cdktf-e2e-token-0123456789';

describe('generated constructs', () => {
  test('constructs/generated matches the registry (run `npm run generate` after changing a resource)', () => {
    const expected = generateConstructs();
    expect(readdirSync(GENERATED_DIR).sort()).toEqual([...expected.keys()].sort());
    for (const [file, text] of expected) expect(readFileSync(join(GENERATED_DIR, file), 'utf8')).toBe(text);
  });

  test('docs/terraform matches the registry, one page per resource with its import ID', () => {
    const expected = generateDocs();
    expect(readdirSync(DOCS_DIR).sort()).toEqual([...expected.keys()].sort());
    for (const [file, text] of expected) expect(readFileSync(join(DOCS_DIR, file), 'utf8')).toBe(text);
    expect(expected.get('portico_api_key.md')).toContain("terraform import portico_api_key.example '<tenant_id>/<id>'");
  });
});

const haveTerraform = terraformAvailable();
(haveTerraform ? describe : describe.skip)('cdktf synth / deploy / diff / destroy against a live gateway', () => {
  let server: RunningServer;
  let home: string;
  const api = async (path: string) =>
    (await (await fetch(server.adminUrl + path, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;

  /** Runs the cdktf CLI in `dir`; returns its output without colours. */
  const cdktf = async (dir: string, args: string[], extraEnv: Record<string, string> = {}) => {
    const env = {
      ...process.env,
      HOME: home,
      CHECKPOINT_DISABLE: '1',
      CI: '1',
      FORCE_COLOR: '0',
      TF_CLI_CONFIG_FILE: '',
      PORTICO_ENDPOINT: server.adminUrl!,
      PORTICO_TOKEN: TOKEN,
      ...extraEnv,
    };
    try {
      const { stdout, stderr } = await run(CDKTF, args, { cwd: dir, env, maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, out: (stdout + stderr).replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: (e.stdout + e.stderr).replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') };
    }
  };

  beforeAll(async () => {
    server = await startServer(
      loadConfig({
        PORTICO_DATA_DIR: 'memory://',
        PORTICO_ADMIN_TOKEN: TOKEN,
        PORTICO_ADMIN_PORT: '0',
        PORTICO_DATA_PORT: '0',
      }),
      pino({ level: 'silent' }),
      { webhooks: false, pgliteImage: testPgliteImage() },
    );
    const tf = new TerraformDir();
    await tf.installProvider();
    home = tf.home;
  }, 120_000);
  afterAll(() => server?.close());

  test('the example stacks synthesize, deploy, deploy again with no change, and destroy', async () => {
    const dir = new TerraformDir().dir;
    writeFileSync(
      join(dir, 'cdktf.json'),
      JSON.stringify({
        language: 'typescript',
        app: `node ${TSX} ${join(ROOT, 'stacks', 'main.ts')}`,
        sendCrashReports: 'false',
        terraformProviders: [],
      }),
    );
    const synth = await cdktf(dir, ['synth']);
    expect(synth.out).toContain('Generated Terraform code for the stacks: platform, tenant-acme');
    const stack = JSON.parse(readFileSync(join(dir, 'cdktf.out', 'stacks', 'tenant-acme', 'cdk.tf.json'), 'utf8'));
    expect(stack.terraform.required_providers.portico.source).toBe('portico/portico');

    const deploy = await cdktf(dir, ['deploy', '*', '--auto-approve', '--skip-provider-lock']);
    expect(deploy.code).toBe(0);
    expect(deploy.out).toMatch(/Apply complete! Resources: 3 added/);
    expect(deploy.out).toMatch(/Apply complete! Resources: 5 added/);
    expect((await api('/v1/admin/routes/global-gpt')).strategy).toBe('fallback');
    expect((await api('/v1/admin/tenants/acme/keys')).data.map((k: any) => k.name).sort()).toEqual([
      'production',
      'staging',
    ]);

    const again = await cdktf(dir, ['deploy', '*', '--auto-approve', '--skip-provider-lock']);
    expect(again.code).toBe(0);
    expect(again.out.match(/No changes\. Your infrastructure matches the configuration/g)).toHaveLength(2);

    const destroy = await cdktf(dir, ['destroy', '*', '--auto-approve', '--skip-provider-lock']);
    expect(destroy.code).toBe(0);
    expect((await api('/v1/admin/tenants')).data).toEqual([]);
  }, 300_000);

  test('an app elsewhere imports portico/constructs: deploy, clean diff, in-place rename, destroy', async () => {
    const dir = new TerraformDir().dir;
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'portico'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    writeFileSync(
      join(dir, 'cdktf.json'),
      JSON.stringify({
        language: 'typescript',
        app: `node ${TSX} main.ts`,
        sendCrashReports: 'false',
        terraformProviders: [],
      }),
    );
    writeFileSync(
      join(dir, 'main.ts'),
      `import { App, TerraformStack, PorticoProvider, Tenant, ApiKey } from "portico/constructs";
class Team extends TerraformStack {
  constructor(scope: App, id: string) {
    super(scope, id);
    new PorticoProvider(this, "portico", {});
    const t = new Tenant(this, "acme", { id: "acme-corp", name: process.env.TENANT_NAME ?? "Acme Corp" });
    new ApiKey(this, "key", { tenantId: t.id, name: "production-key" });
  }
}
const app = new App();
new Team(app, "team");
app.synth();
`,
    );
    const deploy = await cdktf(dir, ['deploy', 'team', '--auto-approve', '--skip-provider-lock']);
    expect([deploy.code, deploy.out]).toEqual([0, expect.stringContaining('Apply complete! Resources: 2 added')]);
    const diff = await cdktf(dir, ['diff', 'team', '--skip-provider-lock']);
    expect(diff.out).toContain('No changes');

    const renamed = await cdktf(dir, ['diff', 'team', '--skip-provider-lock'], { TENANT_NAME: 'Acme Corporation' });
    expect(renamed.out).toMatch(/portico_tenant\.acme.*will be updated in-place/);
    expect(renamed.out).not.toMatch(/must be replaced/);
    const apply = await cdktf(dir, ['deploy', 'team', '--auto-approve', '--skip-provider-lock'], {
      TENANT_NAME: 'Acme Corporation',
    });
    expect(apply.out).toContain('Apply complete! Resources: 0 added, 1 changed, 0 destroyed');
    expect((await api('/v1/admin/tenants/acme-corp')).name).toBe('Acme Corporation');

    const destroy = await cdktf(dir, ['destroy', 'team', '--auto-approve', '--skip-provider-lock'], {
      TENANT_NAME: 'Acme Corporation',
    });
    expect(destroy.code).toBe(0);
    expect((await api('/v1/admin/tenants')).data).toEqual([]);
  }, 300_000);
});

describe('issue 13 in the constructs', () => {
  test('providerName synthesizes as provider_name (never the provider meta-argument); forceDestroy as force_destroy', async () => {
    const { App, TerraformStack, Pricing, Credential, Tenant, PorticoProvider } = await import('../constructs');
    const outdir = new TerraformDir().dir;
    const app = new App({ outdir });
    const stack = new TerraformStack(app, 'names');
    new PorticoProvider(stack, 'portico', {});
    new Pricing(stack, 'price', {
      providerName: 'openai',
      model: 'gpt-4o',
      inputPerMillionUsd: 0.1,
      outputPerMillionUsd: 99.99,
    });
    new Credential(stack, 'cred', { providerName: 'openai', apiKeyWo: 'sk-x', apiKeyWoVersion: 1 });
    new Tenant(stack, 'team', { id: 'team', name: 'Team', forceDestroy: true });
    app.synth();
    const doc = JSON.parse(readFileSync(join(outdir, 'stacks', 'names', 'cdk.tf.json'), 'utf8'));
    expect(doc.resource.portico_pricing.price).toMatchObject({
      provider_name: 'openai',
      input_per_million_usd: 0.1,
      output_per_million_usd: 99.99,
    });
    expect(doc.resource.portico_pricing.price.provider).toBeUndefined();
    expect(doc.resource.portico_credential.cred).toMatchObject({ provider_name: 'openai', api_key_wo: 'sk-x' });
    expect(doc.resource.portico_credential.cred.provider).toBeUndefined();
    expect(doc.resource.portico_tenant.team.force_destroy).toBe(true);
  });
});

describe('issue 13: TenantOnboarding without a webhook secret', () => {
  test('the server-made secret is readable as webhook.secret (a sensitive output can hand it on); no secret_wo is sent', async () => {
    const { App, TerraformStack, TerraformOutput, TenantOnboarding, PorticoProvider } = await import('../constructs');
    const outdir = new TerraformDir().dir;
    const app = new App({ outdir });
    const stack = new TerraformStack(app, 'onboarding');
    new PorticoProvider(stack, 'portico', {});
    const team = new TenantOnboarding(stack, 'team', {
      id: 'team',
      name: 'Team',
      webhookUrl: 'https://hooks.example.com/team',
    });
    new TerraformOutput(stack, 'webhook_secret', { value: team.webhook!.secret, sensitive: true });
    app.synth();
    const doc = JSON.parse(readFileSync(join(outdir, 'stacks', 'onboarding', 'cdk.tf.json'), 'utf8'));
    const [hookName, hook] = Object.entries(doc.resource.portico_webhook)[0] as [string, Record<string, unknown>];
    expect(hook.secret_wo).toBeUndefined();
    expect(doc.output.webhook_secret).toEqual({ value: `\${portico_webhook.${hookName}.secret}`, sensitive: true });
  });
});

describe('issue 13: data source constructs', () => {
  test('DataPortico* synthesize as data blocks whose attributes and getters reference the resources; terraform validates them', async () => {
    const c = await import('../constructs');
    const outdir = new TerraformDir().dir;
    const app = new c.App({ outdir });
    const stack = new c.TerraformStack(app, 'lookups');
    new c.PorticoProvider(stack, 'portico', {});
    const tenant = new c.Tenant(stack, 'team', { id: 'team', name: 'Team' });
    const tier = new c.RateLimitTier(stack, 'tier', { id: 'silver', limit: 5, windowSecs: 60 });
    const service = new c.Service(stack, 'svc', {
      id: 'svc',
      tenantId: tenant.id,
      name: 'Svc',
      targetUrl: 'http://127.0.0.1:9',
    });
    const route = new c.Route(stack, 'route', {
      id: 'r',
      tenantId: tenant.id,
      pathPrefix: '/r',
      serviceId: service.id,
    });
    const cred = new c.Credential(stack, 'cred', { providerName: 'openai', apiKeyWo: 'sk-x', apiKeyWoVersion: 1 });
    const lookups = {
      tenant: new c.DataPorticoTenant(stack, 'tenant_lookup', { id: tenant.id }),
      tier: new c.DataPorticoRateLimitTier(stack, 'tier_lookup', { id: tier.id }),
      service: new c.DataPorticoService(stack, 'svc_lookup', { id: service.id, tenantId: tenant.id }),
      route: new c.DataPorticoRoute(stack, 'route_lookup', { id: route.id, tenantId: tenant.id }),
      cred: new c.DataPorticoCredential(stack, 'cred_lookup', { id: cred.id, dependsOn: [cred] }),
    };
    new c.TerraformOutput(stack, 'tenant_name', { value: lookups.tenant.name });
    new c.TerraformOutput(stack, 'route_prefix', { value: lookups.route.pathPrefix });
    new c.TerraformOutput(stack, 'credential_last4', { value: lookups.cred.keyLast4 });
    app.synth();
    const dir = join(outdir, 'stacks', 'lookups');
    const doc = JSON.parse(readFileSync(join(dir, 'cdk.tf.json'), 'utf8'));
    const [tenantName, routeName, svcName] = [tenant, route, service].map((r) => r.friendlyUniqueId);
    expect(Object.keys(doc.data).sort()).toEqual(
      ['portico_credential', 'portico_rate_limit_tier', 'portico_route', 'portico_service', 'portico_tenant'].sort(),
    );
    expect(Object.values(doc.data.portico_route)[0]).toMatchObject({
      id: `\${portico_route.${routeName}.id}`,
      tenant_id: `\${portico_tenant.${tenantName}.id}`,
    });
    expect(Object.values(doc.data.portico_service)[0]).toMatchObject({ id: `\${portico_service.${svcName}.id}` });
    expect(Object.values(doc.data.portico_credential)[0]).toMatchObject({
      depends_on: [expect.stringContaining('portico_credential.')],
    });
    const routeLookupName = Object.keys(doc.data.portico_route)[0];
    expect(doc.output.route_prefix.value).toBe(`\${data.portico_route.${routeLookupName}.path_prefix}`);
    expect(doc.output.credential_last4.value).toMatch(/^\$\{data\.portico_credential\.[^.]+\.key_last4\}$/);
    if (!terraformAvailable()) return;
    // the provider's data source schemas accept what the constructs wrote
    const tf = new TerraformDir();
    await tf.installProvider();
    tf.write('cdk.tf.json', readFileSync(join(dir, 'cdk.tf.json'), 'utf8'));
    expect((await tf.tf('init', '-input=false', '-no-color')).code).toBe(0);
    const validated = await tf.tf('validate', '-no-color');
    expect([validated.code, validated.stdout]).toEqual([0, expect.stringContaining('The configuration is valid')]);
  }, 120_000);
});
