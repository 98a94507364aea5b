import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startServer, type RunningServer } from '../server/app';
import { loadConfig } from '../server/config';
import { testPgliteImage } from './support/pglite-image';
import { TerraformDir, terraformAvailable } from './support/terraform';

const TOKEN = 'terraform-e2e-token-0123456789';
const SECRET = 'whsec_terraform_e2e_secret_value';
const haveTerraform = terraformAvailable();
const suite = haveTerraform ? describe : describe.skip;

const config = (endpoint: string, tenantName = 'Acme Corp') => `
terraform {
  required_providers {
    portico = { source = "portico/portico" }
  }
}
variable "secret" {
  type      = string
  sensitive = true
  ephemeral = true
}
provider "portico" {
  endpoint = "${endpoint}"
  token    = "${TOKEN}"
}
resource "portico_tenant"  "acme" {
  id       = "acme-corp"
  name     = "${tenantName}"
  metadata = { team = "ml" }
}
resource "portico_rate_limit_tier" "gold" {
  id          = "gold"
  limit       = 1000
  window_secs = 60
  daily_quota = 100000
}
resource "portico_api_key" "prod" {
  tenant_id       = portico_tenant.acme.id
  name            = "production-key"
  rate_limit_tier = portico_rate_limit_tier.gold.id
}
resource "portico_service" "billing" {
  id                = "billing"
  tenant_id         = portico_tenant.acme.id
  name              = "Billing"
  target_url        = "http://127.0.0.1:9/billing"
  health_check_path = "/healthz"
}
resource "portico_route" "billing" {
  id              = "billing-route"
  tenant_id       = portico_tenant.acme.id
  path_prefix     = "/billing"
  methods         = ["GET", "POST"]
  service_id      = portico_service.billing.id
  rate_limit      = { limit = 100, window_secs = 60 }
  circuit_breaker = { failure_threshold = 3 }
}
resource "portico_route" "gpt" {
  id            = "gpt-route"
  model_pattern = "gpt*"
  strategy      = "model-prefix"
  providers     = [{ provider = "openai" }]
}
resource "portico_budget" "acme" {
  tenant_id   = portico_tenant.acme.id
  period      = "MONTHLY"
  limit_usd   = 100
  enforcement = "HARD"
}
resource "portico_webhook" "ops" {
  url               = "https://hooks.example.com/portico"
  events            = ["*"]
  secret_wo         = var.secret
  secret_wo_version = 1
}
resource "portico_token" "ci" {
  name = "ci"
  role = "viewer"
  tenant_id = portico_tenant.acme.id
}
`;

suite('terraform end to end (real terraform, provider from the local mirror)', () => {
  jest.setTimeout(180_000);
  let server: RunningServer;
  let tf: TerraformDir;
  let admin: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(admin + path, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as any) };
  };
  const state = (address: string) => {
    const doc = JSON.parse(readFileSync(join(tf.dir, 'terraform.tfstate'), 'utf8'));
    const [type, name] = address.split('.');
    return doc.resources.find((r: any) => r.type === type && r.name === name)?.instances[0].attributes;
  };

  beforeAll(async () => {
    server = await startServer(loadConfig({ PORTICO_DATA_DIR: 'memory://', PORTICO_ADMIN_TOKEN: TOKEN, PORTICO_ADMIN_PORT: '0', PORTICO_DATA_PORT: '0' }), pino({ level: 'silent' }), { webhooks: false, pgliteImage: testPgliteImage() });
    admin = server.adminUrl!;
    tf = new TerraformDir({ TF_VAR_secret: SECRET });
    await tf.installProvider();
    tf.write('main.tf', config(admin));
  }, 120_000);
  afterAll(() => server?.close());

  test('init works offline from the local mirror', async () => {
    const init = await tf.tf('init', '-input=false', '-no-color');
    expect(init.stderr).toBe('');
    expect(init.stdout).toContain('Installing portico/portico v0.1.0');
  });

  test('apply creates everything over the admin API; a second plan is empty', async () => {
    const apply = await tf.tf('apply', '-auto-approve', '-input=false', '-no-color');
    expect(apply.stdout).toContain('Apply complete! Resources: 9 added');
    expect((await api('GET', '/v1/admin/tenants/acme-corp')).body).toMatchObject({ name: 'Acme Corp', metadata: { team: 'ml' } });
    expect((await api('GET', '/v1/admin/routes/gpt-route')).body.providers[0]).toMatchObject({ provider: 'openai', weight: 1 });
    expect(state('portico_api_key.prod').key).toMatch(/^ptc_key_/);
    expect((await api('GET', '/v1/admin/routes/billing-route')).body).toMatchObject({ service_id: 'billing', circuit_breaker: { failure_threshold: 3, cooldown_ms: 30000 } });
    const plan = await tf.tf('plan', '-detailed-exitcode', '-input=false', '-no-color');
    expect(plan.code).toBe(0);
  });

  test('no write-only secret reaches the state', () => {
    const raw = readFileSync(join(tf.dir, 'terraform.tfstate'), 'utf8');
    expect(raw).not.toContain(SECRET);
    expect(state('portico_webhook.ops')).toMatchObject({ secret_wo: null, secret_wo_version: 1, secret_set: true });
  });

  test('renaming a tenant is an in-place update', async () => {
    tf.write('main.tf', config(admin, 'Acme Corporation'));
    expect(await tf.planActions()).toEqual({ 'portico_tenant.acme': ['update'] });
    await tf.tf('apply', '-auto-approve', '-input=false', '-no-color');
    expect((await api('GET', '/v1/admin/tenants/acme-corp')).body.name).toBe('Acme Corporation');
  });

  test('a change made through REST is drift; a resource deleted through REST is re-created', async () => {
    await api('PUT', '/v1/admin/routes/gpt-route', { model_pattern: 'gpt*', providers: [{ provider: 'openai' }], priority: 7 });
    expect((await api('DELETE', `/v1/admin/budgets/${state('portico_budget.acme').id}`)).status).toBe(204);
    expect(await tf.planActions()).toEqual({ 'portico_route.gpt': ['update'], 'portico_budget.acme': ['create'] });
    await tf.tf('apply', '-auto-approve', '-input=false', '-no-color');
    expect((await api('GET', '/v1/admin/routes/gpt-route')).body.priority).toBe(0);
    expect((await tf.tf('plan', '-detailed-exitcode', '-input=false', '-no-color')).code).toBe(0);
  });

  test('terraform import of every kind is followed by an empty plan', async () => {
    for (const address of ['portico_tenant.acme', 'portico_rate_limit_tier.gold', 'portico_api_key.prod', 'portico_service.billing', 'portico_route.billing', 'portico_route.gpt', 'portico_budget.acme', 'portico_webhook.ops', 'portico_token.ci']) {
      const s = state(address);
      const id = address === 'portico_api_key.prod' ? `${s.tenant_id}/${s.id}` : s.id;
      expect((await tf.tf('state', 'rm', address)).code).toBe(0);
      const imported = await tf.tf('import', '-input=false', '-no-color', address, id);
      expect(imported.stdout).toContain('Import successful');
    }
    const plan = await tf.tf('plan', '-detailed-exitcode', '-input=false', '-no-color');
    expect([plan.code, plan.stdout]).toEqual([0, expect.stringContaining('No changes')]);
  });

  test('invalid configuration fails at plan with diagnostics naming the attribute', async () => {
    tf.write('bad.tf', `
resource "portico_route" "bad" {
  id            = "bad"
  model_pattern = "gpt*"
  path_prefix   = "/x"
  providers     = [{ provider = "openai" }]
}
resource "portico_budget" "bad" {
  tenant_id = "acme-corp"
  limit_usd = 10
  period    = "YEARLY"
}`);
    const plan = await tf.tf('plan', '-input=false', '-no-color');
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/Error: Invalid path_prefix[\s\S]*path_prefix   = "\/x"[\s\S]*give exactly one of model_pattern/);
    expect(plan.stderr).toMatch(/Error: Invalid period[\s\S]*period    = "YEARLY"/);
    tf.write('bad.tf', '');
  });

  test('destroy removes everything', async () => {
    const destroy = await tf.tf('destroy', '-auto-approve', '-input=false', '-no-color');
    expect(destroy.stdout).toContain('Destroy complete! Resources: 9 destroyed');
    expect((await api('GET', '/v1/admin/tenants')).body.data).toEqual([]);
    expect((await api('GET', '/v1/admin/routes')).body.data).toEqual([]);
    expect((await api('GET', '/v1/admin/webhooks')).body.data).toEqual([]);
  });
});

(haveTerraform ? describe : describe.skip)('provider install --dev', () => {
  test('writes a dev_overrides CLI config that terraform uses with no init', async () => {
    const { installDev } = await import('../provider/install');
    const tf = new TerraformDir();
    const { dir, config } = await installDev(tf.home);
    expect(readFileSync(config, 'utf8')).toContain(`"portico/portico" = "${dir}"`);
    tf.write('main.tf', 'terraform {\n  required_providers {\n    portico = { source = "portico/portico" }\n  }\n}\nprovider "portico" {\n  token = "x"\n}\nresource "portico_tenant" "t" {\n  id   = "t"\n  name = "T"\n}\n');
    const validate = await tf.tf('validate', '-no-color');
    const env = { TF_CLI_CONFIG_FILE: config };
    const withDev = new TerraformDir(env);
    withDev.write('main.tf', readFileSync(join(tf.dir, 'main.tf'), 'utf8'));
    const ok = await withDev.tf('validate', '-no-color');
    expect(validate.code).toBe(1); // without the override and without init, terraform cannot find the provider
    expect([ok.code, ok.stdout]).toEqual([0, expect.stringContaining('The configuration is valid')]);
    expect(ok.stdout + ok.stderr).toContain('Provider development overrides are in effect');
  });
});
