import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateConstructs, GENERATED_DIR } from '../constructs/generate';
import { DOCS_DIR, generateDocs } from '../provider/docs';
import { TerraformDir, terraformAvailable } from './support/terraform';

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

// `cdktf deploy`, `diff` and `destroy` of the example stacks from a fresh HOME: test/cdktf-offline.test.ts; an app
// outside this repository, on the packed project (cdktf and cdktn): test/cdktf-package.test.ts.

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
