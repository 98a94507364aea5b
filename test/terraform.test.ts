import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BulkReader } from '../provider/bulk-read';
import { AdminClient } from '../provider/client';
import type { CtyValue } from '../provider/cty-codec';
import { modelByType } from '../provider/schema';
import type { RunningServer } from '../server/app';
import { testDialects } from './support/databases';
import { Receiver } from './support/receiver';
import {
  REQUIRED_PROVIDERS,
  secretVariable,
  startGatewayForTerraform,
  TerraformDir,
  terraformAvailable,
  type TerraformGateway,
} from './support/terraform';

const SECRET = 'whsec_terraform_e2e_secret_value';
const haveTerraform = terraformAvailable();
const suite = haveTerraform ? describe : describe.skip;

const config = (gw: TerraformGateway, tenantName = 'Acme Corp') => `${gw.hcl}${secretVariable('secret')}
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
  let gw: TerraformGateway;
  let tf: TerraformDir;
  const api = (method: string, path: string, body?: unknown) => gw.api(method, path, body);
  const state = (address: string) => tf.attributes(address);

  beforeAll(async () => {
    gw = await startGatewayForTerraform();
    tf = new TerraformDir({ TF_VAR_secret: SECRET });
    await tf.installProvider();
    tf.write('main.tf', config(gw));
  }, 120_000);
  afterAll(() => gw?.close());

  test('init works offline from the local mirror', async () => {
    const init = await tf.init();
    expect(init.stderr).toBe('');
    expect(init.stdout).toContain('Installing portico/portico v0.1.0');
  });

  test('apply creates everything over the admin API; a second plan is empty', async () => {
    const apply = await tf.apply();
    expect(apply.stdout).toContain('Apply complete! Resources: 9 added');
    expect((await api('GET', '/v1/admin/tenants/acme-corp')).body).toMatchObject({
      name: 'Acme Corp',
      metadata: { team: 'ml' },
    });
    expect((await api('GET', '/v1/admin/routes/gpt-route')).body.providers[0]).toMatchObject({
      provider: 'openai',
      weight: 1,
    });
    expect(state('portico_api_key.prod').key).toMatch(/^ptc_key_/);
    expect((await api('GET', '/v1/admin/routes/billing-route')).body).toMatchObject({
      service_id: 'billing',
      circuit_breaker: { failure_threshold: 3, cooldown_ms: 30000 },
    });
    await tf.expectEmptyPlan();
  });

  test('no write-only secret reaches the state', () => {
    expect(tf.stateText()).not.toContain(SECRET);
    expect(state('portico_webhook.ops')).toMatchObject({ secret_wo: null, secret_wo_version: 1, secret_set: true });
  });

  test('renaming a tenant is an in-place update', async () => {
    tf.write('main.tf', config(gw, 'Acme Corporation'));
    expect(await tf.planActions()).toEqual({ 'portico_tenant.acme': ['update'] });
    await tf.apply();
    expect((await api('GET', '/v1/admin/tenants/acme-corp')).body.name).toBe('Acme Corporation');
  });

  test('a change made through REST is drift; a resource deleted through REST is re-created', async () => {
    await api('PUT', '/v1/admin/routes/gpt-route', {
      model_pattern: 'gpt*',
      providers: [{ provider: 'openai' }],
      priority: 7,
    });
    expect((await api('DELETE', `/v1/admin/budgets/${state('portico_budget.acme').id}`)).status).toBe(204);
    expect(await tf.planActions()).toEqual({ 'portico_route.gpt': ['update'], 'portico_budget.acme': ['create'] });
    await tf.apply();
    expect((await api('GET', '/v1/admin/routes/gpt-route')).body.priority).toBe(0);
    await tf.expectEmptyPlan();
  });

  test('terraform import of every kind is followed by an empty plan', async () => {
    for (const address of [
      'portico_tenant.acme',
      'portico_rate_limit_tier.gold',
      'portico_api_key.prod',
      'portico_service.billing',
      'portico_route.billing',
      'portico_route.gpt',
      'portico_budget.acme',
      'portico_webhook.ops',
      'portico_token.ci',
    ]) {
      const s = state(address);
      const id = address === 'portico_api_key.prod' ? `${s.tenant_id}/${s.id}` : s.id;
      await tf.expectReimported(address, id);
    }
    await tf.expectEmptyPlan();
  });

  test('invalid configuration fails at plan with diagnostics naming the attribute', async () => {
    tf.write(
      'bad.tf',
      `
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
}`,
    );
    const plan = await tf.plan();
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(
      /Error: Invalid path_prefix[\s\S]*path_prefix   = "\/x"[\s\S]*give exactly one of model_pattern/,
    );
    expect(plan.stderr).toMatch(/Error: Invalid period[\s\S]*period    = "YEARLY"/);
    tf.write('bad.tf', '');
  });

  test('destroy removes everything', async () => {
    const destroy = await tf.destroy();
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
    tf.write(
      'main.tf',
      `${REQUIRED_PROVIDERS}provider "portico" {\n  token = "x"\n}\nresource "portico_tenant" "t" {\n  id   = "t"\n  name = "T"\n}\n`,
    );
    const validate = await tf.validate();
    const env = { TF_CLI_CONFIG_FILE: config };
    const withDev = new TerraformDir(env);
    withDev.write('main.tf', readFileSync(join(tf.dir, 'main.tf'), 'utf8'));
    const ok = await withDev.validate();
    expect(validate.code).toBe(1); // without the override and without init, terraform cannot find the provider
    expect([ok.code, ok.stdout]).toEqual([0, expect.stringContaining('The configuration is valid')]);
    expect(ok.stdout + ok.stderr).toContain('Provider development overrides are in effect');
  });
});

/** Issue 13: reserved names, decimal numbers, revocation drift, server-made secrets, force_destroy, validation, rotation. */
(haveTerraform ? describe : describe.skip)('terraform: issue 13 (real terraform)', () => {
  jest.setTimeout(180_000);
  const HOOK_SECRET = 'whsec_issue13_first_secret_value';
  const NEW_SECRET = 'whsec_issue13_second_secret_value';
  let gw: TerraformGateway;
  let tf: TerraformDir;
  let receiver: Receiver;
  let hookUrl: string;
  const api = (method: string, path: string, body?: unknown) => gw.api(method, path, body);
  const state = (address: string) => tf.attributes(address);
  const main = (forceDestroy = '') => `${gw.hcl}${secretVariable('secret')}
variable "secret_version" {
  type    = number
  default = 1
}
resource "portico_tenant" "team" {
  id   = "team-13"
  name = "Team 13"
  ${forceDestroy}
}
resource "portico_credential" "openai" {
  provider_name      = "openai"
  api_key_wo         = "sk-issue13-credential-0001"
  api_key_wo_version = 1
}
resource "portico_pricing" "gpt" {
  provider_name          = "openai"
  model                  = "gpt-4o"
  input_per_million_usd  = 0.1
  output_per_million_usd = 99.99
}
resource "portico_budget" "team" {
  tenant_id   = portico_tenant.team.id
  period      = "MONTHLY"
  limit_usd   = 19.99
  enforcement = "HARD"
}
resource "portico_api_key" "k" {
  tenant_id = portico_tenant.team.id
  name      = "k"
}
resource "portico_token" "t" {
  name      = "t"
  role      = "viewer"
  tenant_id = portico_tenant.team.id
}
resource "portico_webhook" "made" {
  url    = "${hookUrl}"
  events = ["*"]
}
resource "portico_webhook" "given" {
  url               = "https://hooks.example.com/issue13"
  events            = ["*"]
  secret_wo         = var.secret
  secret_wo_version = var.secret_version
}
`;
  beforeAll(async () => {
    gw = await startGatewayForTerraform();
    receiver = new Receiver();
    hookUrl = await receiver.start();
    tf = await TerraformDir.initialised(main(), { TF_VAR_secret: HOOK_SECRET });
  }, 120_000);
  afterAll(async () => {
    await receiver?.stop();
    await gw?.close();
  });

  test('provider_name (REST provider), and decimals no float64 holds (19.99, 0.1, 99.99), apply and re-plan empty', async () => {
    const applied = await tf.apply();
    expect([applied.code, applied.stderr]).toEqual([0, '']);
    expect(applied.stdout).toContain('Apply complete! Resources: 8 added');
    expect((await api('GET', `/v1/admin/credentials/${state('portico_credential.openai').id}`)).body).toMatchObject({
      provider: 'openai',
      key_last4: '0001',
    });
    expect((await api('GET', `/v1/admin/pricing/${state('portico_pricing.gpt').id}`)).body).toMatchObject({
      provider: 'openai',
      input_per_million_usd: 0.1,
      output_per_million_usd: 99.99,
    });
    expect((await api('GET', `/v1/admin/budgets/${state('portico_budget.team').id}`)).body.limit_usd).toBe(19.99);
    expect(state('portico_pricing.gpt')).toMatchObject({ provider_name: 'openai', output_per_million_usd: 99.99 });
    await tf.expectEmptyPlan();
  });

  test('a webhook without secret_wo keeps the secret the server made, and it verifies a delivery', async () => {
    const made = state('portico_webhook.made');
    expect(made.secret).toMatch(/^whsec_/);
    expect(state('portico_webhook.given').secret).toBeNull(); // the given secret is never echoed into state
    expect(tf.stateText()).not.toContain(HOOK_SECRET);
    expect((await api('POST', `/v1/admin/webhooks/${made.id}/test`)).body.delivered).toBe(true);
    const [got] = await receiver.waitFor(1);
    const expected = createHmac('sha256', made.secret).update(got.body).digest('hex');
    expect(got.headers['x-gateway-signature']).toBe(`sha256=${expected}`);
  });

  test('a key, token or credential revoked through REST is drift: the plan replaces it', async () => {
    const key = state('portico_api_key.k');
    const token = state('portico_token.t');
    const cred = state('portico_credential.openai');
    expect((await api('POST', `/v1/admin/tenants/team-13/keys/${key.id}/revoke`)).status).toBe(200);
    expect((await api('POST', `/v1/admin/tokens/${token.id}/revoke`)).status).toBe(200);
    expect((await api('POST', `/v1/admin/credentials/${cred.id}/revoke`)).status).toBe(200);
    expect(await tf.planActions()).toEqual({
      'portico_api_key.k': ['delete', 'create'],
      'portico_token.t': ['delete', 'create'],
      'portico_credential.openai': ['delete', 'create'],
    });
    const shown = await tf.plan();
    expect(shown.stdout.match(/~ status\s+= "REVOKED" -> \(known after apply\) # forces replacement/g)).toHaveLength(3);
    expect((await tf.apply()).code).toBe(0);
    expect(state('portico_api_key.k')).toMatchObject({ status: 'ACTIVE', key: expect.stringMatching(/^ptc_key_/) });
    expect(state('portico_api_key.k').id).not.toBe(key.id);
    expect((await api('GET', `/v1/admin/tenants/team-13/keys/${key.id}`)).status).toBe(404);
    await tf.expectEmptyPlan();
  });

  test('a changed secret_wo without a new secret_wo_version is a plan warning; bumping the version sends it', async () => {
    const warned = await tf.plan('-var', `secret=${NEW_SECRET}`);
    expect(warned.code).toBe(0); // nothing would change
    expect(warned.stdout + warned.stderr).toMatch(
      /Warning: secret_wo changed but secret_wo_version did not[\s\S]*Change\s+secret_wo_version\s+to\s+send\s+the\s+new\s+value/,
    );
    const same = await tf.plan();
    expect(same.stdout + same.stderr).not.toContain('Warning');
    const rotated = await tf.apply('-var', `secret=${NEW_SECRET}`, '-var', 'secret_version=2');
    expect([rotated.code, rotated.stdout + rotated.stderr]).toEqual([0, expect.not.stringContaining('Warning')]);
    expect(rotated.stdout).toContain('1 changed');
    const after = await tf.plan('-var', `secret=${NEW_SECRET}`, '-var', 'secret_version=2');
    expect([after.code, after.stdout + after.stderr]).toEqual([0, expect.not.stringContaining('Warning')]);
    const old = await tf.plan('-var', 'secret_version=2'); // the first secret is now the one not sent
    expect(old.stdout + old.stderr).toContain('Warning: secret_wo changed but secret_wo_version did not');
    const raw = tf.stateText();
    expect([raw.includes(NEW_SECRET), raw.includes(HOOK_SECRET)]).toEqual([false, false]);
    tf.write('main.tf', main().replace('default = 1', 'default = 2'));
  });

  test('what the server would refuse fails at plan, in plain words with the allowed values', async () => {
    tf.write(
      'bad.tf',
      `
provider "portico" {
  alias    = "elsewhere"
  endpoint = "not a url"
  token    = "x"
}
resource "portico_tenant" "bad" {
  id     = "Bad Id"
  name   = "Bad"
  status = "PAUSED"
}
resource "portico_tenant" "elsewhere" {
  provider = portico.elsewhere
  id       = "elsewhere"
  name     = "Elsewhere"
}
resource "portico_webhook" "bad" {
  url    = "https://hooks.example.com/bad"
  events = ["NOT_AN_EVENT_TYPE"]
}`,
    );
    const bad = await tf.plan();
    tf.write('bad.tf', '');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Error: Invalid id[\s\S]*id\s+= "Bad Id"[\s\S]*id must be a slug: lower-case letters/);
    expect(bad.stderr).toMatch(/Error: Invalid status[\s\S]*status must be one of ACTIVE, SUSPENDED/);
    expect(bad.stderr).toMatch(/Error: Invalid events\.0[\s\S]*events\.0 is not a known event type/);
    expect(bad.stderr).toMatch(
      /Error: Invalid endpoint[\s\S]*endpoint must be an http\(s\) URL such as http:\/\/127\.0\.0\.1:8090/,
    );
    expect(bad.stderr).not.toMatch(/Invalid option|expected one of|received string/);
  });

  test('destroying a tenant that owns resources made outside Terraform: a diagnostic, then force_destroy', async () => {
    const updatedAt = (await api('GET', '/v1/admin/tenants/team-13')).body.updated_at;
    const byHand = await api('POST', '/v1/admin/tenants/team-13/keys', { name: 'made-by-hand' });
    expect(byHand.status).toBe(201);
    const refused = await tf.destroy();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /still owns 1 api_key, made outside this configuration[\s\S]*set force_destroy = true/,
    );
    expect(refused.stderr).not.toContain('cascade=true');
    tf.write('main.tf', main('force_destroy = true').replace('default = 1', 'default = 2'));
    const applied = await tf.apply();
    expect([applied.code, applied.stderr]).toEqual([0, '']);
    expect(state('portico_tenant.team').force_destroy).toBe(true);
    expect((await api('GET', '/v1/admin/tenants/team-13')).body.updated_at).toBe(updatedAt); // an option: no API write
    const destroyed = await tf.destroy();
    expect([destroyed.code, destroyed.stderr]).toEqual([0, '']);
    expect((await api('GET', '/v1/admin/tenants/team-13')).status).toBe(404);
    expect((await api('GET', `/v1/admin/tenants/team-13/keys/${byHand.body.id}`)).status).toBe(404);
  });
});

/** Issue 13, item 13: every data source reads what the same apply made; a missing id is a diagnostic naming it. */
(haveTerraform ? describe : describe.skip)('terraform: data sources (real terraform)', () => {
  jest.setTimeout(180_000);
  const CREDENTIAL_SECRET = 'sk-data-source-credential-4242';
  let gw: TerraformGateway;
  let tf: TerraformDir;
  const main = (extra = '') => `${gw.hcl}
resource "portico_tenant" "a" {
  id       = "ds-a"
  name     = "Data A"
  metadata = { team = "lookups" }
}
resource "portico_tenant" "b" {
  id   = "ds-b"
  name = "Data B"
}
resource "portico_rate_limit_tier" "silver" {
  id          = "ds-silver"
  limit       = 250
  window_secs = 30
}
# the same service id in two tenants: tenant_id names which one
resource "portico_service" "a" {
  id         = "shared"
  tenant_id  = portico_tenant.a.id
  name       = "Service of A"
  target_url = "http://127.0.0.1:9/a"
}
resource "portico_service" "b" {
  id         = "shared"
  tenant_id  = portico_tenant.b.id
  name       = "Service of B"
  target_url = "http://127.0.0.1:9/b"
}
resource "portico_route" "a" {
  id          = "ds-route"
  tenant_id   = portico_tenant.a.id
  path_prefix = "/ds"
  methods     = ["GET"]
  service_id  = portico_service.a.id
  rate_limit  = { limit = 7, window_secs = 60 }
}
resource "portico_credential" "a" {
  tenant_id          = portico_tenant.a.id
  provider_name      = "openai"
  api_key_wo         = "${CREDENTIAL_SECRET}"
  api_key_wo_version = 3
}

data "portico_tenant" "a" {
  id = portico_tenant.a.id
}
data "portico_rate_limit_tier" "silver" {
  id = portico_rate_limit_tier.silver.id
}
data "portico_service" "b" {
  id        = portico_service.b.id
  tenant_id = portico_tenant.b.id
}
data "portico_route" "a" {
  id        = portico_route.a.id
  tenant_id = portico_tenant.a.id
}
data "portico_credential" "a" {
  id         = portico_credential.a.id
  tenant_id  = portico_tenant.a.id
}
output "tenant_name" { value = data.portico_tenant.a.name }
output "tenant_team" { value = data.portico_tenant.a.metadata.team }
output "tier_limit" { value = data.portico_rate_limit_tier.silver.limit }
output "service_name" { value = data.portico_service.b.name }
output "service_target" { value = data.portico_service.b.target_url }
output "route_prefix" { value = data.portico_route.a.path_prefix }
output "route_service" { value = data.portico_route.a.service_id }
output "route_limit" { value = data.portico_route.a.rate_limit.limit }
output "credential_provider" { value = data.portico_credential.a.provider_name }
output "credential_last4" { value = data.portico_credential.a.key_last4 }
output "credential_version" { value = data.portico_credential.a.api_key_wo_version }
${extra}`;

  beforeAll(async () => {
    gw = await startGatewayForTerraform();
    tf = await TerraformDir.initialised(main());
  }, 120_000);
  afterAll(() => gw?.close());

  test('every data source reads what the same apply made; outputs carry the values; a second plan is empty', async () => {
    const applied = await tf.apply();
    expect([applied.code, applied.stderr]).toEqual([0, '']);
    expect(await tf.outputs()).toEqual({
      tenant_name: 'Data A',
      tenant_team: 'lookups',
      tier_limit: 250,
      service_name: 'Service of B',
      service_target: 'http://127.0.0.1:9/b',
      route_prefix: '/ds',
      route_service: 'shared',
      route_limit: 7,
      credential_provider: 'openai',
      credential_last4: '4242',
      credential_version: 3,
    });
    const again = await tf.expectEmptyPlan();
    expect(again.stderr).toBe('');
  });

  test("a credential's data source holds metadata only: its secret never reaches the state", () => {
    expect(tf.stateText()).not.toContain(CREDENTIAL_SECRET);
    const data = tf.attributes('data.portico_credential.a');
    expect(Object.keys(data)).not.toContain('api_key_wo');
    expect(data).toMatchObject({ tenant_id: 'ds-a', key_last4: '4242', status: 'ACTIVE' });
  });

  test('a missing id is an error diagnostic naming the kind and the id; a repeated id without tenant_id asks for it', async () => {
    tf.write(
      'main.tf',
      main('data "portico_route" "gone" {\n  id        = "no-such-route"\n  tenant_id = "ds-a"\n}\n'),
    );
    const plan = await tf.plan();
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/No route with id "no-such-route" in tenant "ds-a" exists/);
    expect(plan.stderr).toContain('data.portico_route.gone');
    // ids repeat across tenants: a lookup naming no tenant is told to set tenant_id
    tf.write('main.tf', main('data "portico_service" "which" {\n  id = "shared"\n}\n'));
    const ambiguous = await tf.plan();
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/AMBIGUOUS_ID[\s\S]*tenant_id: is needed: this id is not unique across tenants/);
    tf.write('main.tf', main());
    const destroyed = await tf.destroy();
    expect([destroyed.code, destroyed.stderr]).toEqual([0, '']);
  });
});

/** Requests the admin API served, as `METHOD path` (query left off) with status, counted from the HTTP server. */
function countRequests(server: RunningServer) {
  const seen: { method: string; path: string; query: string; status: number }[] = [];
  server.admin!.server.on('request', (req, res) => {
    res.on('finish', () => {
      const [path, query = ''] = (req.url ?? '').split('?');
      seen.push({ method: req.method ?? '', path: path!, query, status: res.statusCode });
    });
  });
  return seen;
}

describe.each(testDialects())('bulk refresh: BulkReader against a real gateway (issue 13, item 18; %s)', (dialect) => {
  let gw: TerraformGateway;
  let client: AdminClient;
  let seen: ReturnType<typeof countRequests>;
  const tenant = modelByType('portico_tenant')!;
  const route = modelByType('portico_route')!;
  const key = modelByType('portico_api_key')!;
  const stateOfTenant = (id: string) => ({ id, name: null }) as Record<string, CtyValue>;
  const stateOfRoute = (id: string, tenantId: string | null) =>
    ({ id, tenant_id: tenantId }) as Record<string, CtyValue>;

  beforeAll(async () => {
    gw = await startGatewayForTerraform({ dialect, controlOnly: true });
    client = new AdminClient(gw.url, gw.token);
    for (let i = 0; i < 5; i++)
      await client.request('POST', '/v1/admin/tenants', { id: `bulk-${i}`, name: `Bulk ${i}` });
    // the same route id in two tenants (ids are unique per owner), and a global one
    for (const owner of [null, 'bulk-1', 'bulk-2'])
      await client.request('POST', '/v1/admin/routes', {
        id: owner ? 'shared' : 'solo',
        tenant_id: owner,
        model_pattern: `shared-${owner ?? 'global'}*`,
        providers: [{ provider: 'openai' }],
      });
    for (let i = 0; i < 3; i++) await client.request('POST', '/v1/admin/tenants/bulk-0/keys', { name: `key-${i}` });
    seen = countRequests(gw.server);
  }, 60_000);
  afterAll(() => gw?.close());
  beforeEach(() => (seen.length = 0));

  test('reads of one collection after the first come from one list, fetched page by page', async () => {
    const reader = new BulkReader(client, 2);
    const names = await Promise.all(
      [0, 1, 2, 3, 4].map(async (i) => (await reader.read(tenant, stateOfTenant(`bulk-${i}`)))?.name),
    );
    expect(names).toEqual(['Bulk 0', 'Bulk 1', 'Bulk 2', 'Bulk 3', 'Bulk 4']);
    const gets = seen.filter((r) => r.method === 'GET');
    expect(gets.filter((r) => r.path.startsWith('/v1/admin/tenants/'))).toHaveLength(1); // the first read
    const pages = gets.filter((r) => r.path === '/v1/admin/tenants');
    expect(pages.map((r) => r.query.includes('cursor='))).toEqual([false, true, true]); // 5 tenants, 2 a page
  });

  test("an owned kind's list is keyed by owner and id: the same id in two tenants reads as two resources", async () => {
    const reader = new BulkReader(client);
    const owners = [null, 'bulk-1', 'bulk-2'];
    const read = await Promise.all(owners.map((o) => reader.read(route, stateOfRoute(o ? 'shared' : 'solo', o))));
    expect(read.map((r) => [r?.tenant_id, r?.model_pattern])).toEqual([
      [null, 'shared-global*'],
      ['bulk-1', 'shared-bulk-1*'],
      ['bulk-2', 'shared-bulk-2*'],
    ]);
  });

  test("a tenant's token lists what it may see: its own routes and the global ones, never another tenant's", async () => {
    const made = await client.request('POST', '/v1/admin/tokens', {
      name: 'bulk',
      role: 'viewer',
      tenant_id: 'bulk-1',
    });
    const reader = new BulkReader(new AdminClient(gw.url, made.body.token));
    const read = await Promise.all([
      reader.read(route, stateOfRoute('solo', null)),
      reader.read(route, stateOfRoute('shared', 'bulk-1')),
    ]);
    expect(read.map((r) => r?.model_pattern)).toEqual(['shared-global*', 'shared-bulk-1*']);
    // another tenant's route is in no list this token gets: its single GET is refused, as it always was
    await expect(reader.read(route, stateOfRoute('shared', 'bulk-2'))).rejects.toMatchObject({ status: 403 });
    expect(seen.filter((r) => r.path === '/v1/admin/routes')).toHaveLength(1);
  });

  test("a nested kind is listed per tenant; a tenant's missing collection reads as gone", async () => {
    const keys = (await client.request('GET', '/v1/admin/tenants/bulk-0/keys')).body.data as { id: string }[];
    seen.length = 0;
    const reader = new BulkReader(client);
    const read = await Promise.all(keys.map((k) => reader.read(key, { id: k.id, tenant_id: 'bulk-0' })));
    expect(read.map((r) => r?.id)).toEqual(keys.map((k) => k.id));
    expect(seen.filter((r) => r.path === '/v1/admin/tenants/bulk-0/keys')).toHaveLength(1);
    const nowhere = [0, 1].map((i) => reader.read(key, { id: `k${i}`, tenant_id: 'no-such-tenant' }));
    expect(await Promise.all(nowhere)).toEqual([null, null]);
  });

  test('consistency with writes: an entry serves one read; a written resource, or one missing from the list, is a GET', async () => {
    const reader = new BulkReader(client);
    await reader.read(tenant, stateOfTenant('bulk-0')); // the first read: a GET
    const list = reader.read(tenant, stateOfTenant('bulk-1')); // the second: the list
    // out of band, after the list: the entry bulk-1 got is the list's, but a second read of it is a fresh GET
    await list;
    await client.request('PUT', '/v1/admin/tenants/bulk-1', { name: 'Renamed out of band' });
    expect((await reader.read(tenant, stateOfTenant('bulk-1')))?.name).toBe('Renamed out of band');
    // written by this process (Terraform's apply): never served from a list fetched before the write
    await client.request('PUT', '/v1/admin/tenants/bulk-2', { name: 'Renamed by this provider' });
    reader.wrote(tenant, stateOfTenant('bulk-2'));
    expect((await reader.read(tenant, stateOfTenant('bulk-2')))?.name).toBe('Renamed by this provider');
    // made after the list: not in it, so a GET finds it; deleted: the GET's 404 says gone
    await client.request('POST', '/v1/admin/tenants', { id: 'bulk-late', name: 'Late' });
    expect((await reader.read(tenant, stateOfTenant('bulk-late')))?.name).toBe('Late');
    await client.request('DELETE', '/v1/admin/tenants/bulk-late');
    expect(await reader.read(tenant, stateOfTenant('bulk-late'))).toBeNull();
    const itemGets = seen
      .filter((r) => r.method === 'GET' && r.path.startsWith('/v1/admin/tenants/'))
      .map((r) => r.path);
    expect(itemGets).toEqual([
      '/v1/admin/tenants/bulk-0',
      '/v1/admin/tenants/bulk-1',
      '/v1/admin/tenants/bulk-2',
      '/v1/admin/tenants/bulk-late',
      '/v1/admin/tenants/bulk-late',
    ]);
    expect(seen.filter((r) => r.method === 'GET' && r.path === '/v1/admin/tenants')).toHaveLength(1);
  });
});

describe('provider admin client: kept-alive connections, plain errors', () => {
  let gw: TerraformGateway;
  beforeAll(async () => {
    gw = await startGatewayForTerraform({ controlOnly: true });
  }, 60_000);
  afterAll(() => gw?.close());

  test('calls one after the other share one connection; ten at once open no more than ten', async () => {
    let connections = 0;
    gw.server.admin!.server.on('connection', () => connections++);
    const client = new AdminClient(gw.url, gw.token);
    for (let i = 0; i < 5; i++)
      expect((await client.request('POST', '/v1/admin/tenants', { id: `ka-${i}`, name: `KA ${i}` })).status).toBe(201);
    expect(connections).toBe(1);
    const read = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.request('GET', `/v1/admin/tenants/ka-${i % 5}`)),
    );
    expect(read.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(connections).toBeLessThanOrEqual(10);
    expect((await client.request('GET', '/v1/admin/tenants/none')).status).toBe(404);
    await expect(client.request('POST', '/v1/admin/tenants', { id: 'ka-0', name: 'again' })).rejects.toMatchObject({
      status: 409,
      code: 'ALREADY_EXISTS',
    });
  });

  test('an unreachable gateway is an error naming the endpoint, not a stack trace', async () => {
    const client = new AdminClient('http://127.0.0.1:9', gw.token);
    await expect(client.request('GET', '/v1/admin/tenants')).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: expect.stringMatching(/^Cannot reach the Portico admin API at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/),
    });
  });
});

(haveTerraform ? describe.each(testDialects()) : describe.skip.each(testDialects()))(
  'terraform: bulk refresh, drift between runs (real terraform, %s)',
  (dialect) => {
    jest.setTimeout(180_000);
    let gw: TerraformGateway;
    let tf: TerraformDir;
    let client: AdminClient;
    let seen: ReturnType<typeof countRequests>;
    const main = () => `${gw.hcl}
resource "portico_tenant" "t" {
  count = 4
  id    = "drift-\${count.index}"
  name  = "Drift \${count.index}"
}
resource "portico_route" "global" {
  count         = 4
  id            = "global-\${count.index}"
  model_pattern = "global-\${count.index}*"
  providers     = [{ provider = "openai" }]
}
resource "portico_route" "shared" {
  count         = 2
  id            = "shared"
  tenant_id     = portico_tenant.t[count.index + 1].id
  model_pattern = "shared-\${count.index}*"
  providers     = [{ provider = "openai" }]
}
resource "portico_api_key" "k" {
  count     = 3
  tenant_id = portico_tenant.t[0].id
  name      = "key-\${count.index}"
}
`;

    beforeAll(async () => {
      gw = await startGatewayForTerraform({ dialect, controlOnly: true });
      client = new AdminClient(gw.url, gw.token);
      seen = countRequests(gw.server);
      tf = await TerraformDir.initialised(main());
      const applied = await tf.apply();
      expect(applied.stdout).toContain('Apply complete! Resources: 13 added');
    }, 120_000);
    afterAll(() => gw?.close());
    beforeEach(() => (seen.length = 0));

    test('a refresh lists each collection once instead of a GET per resource; the plan is empty', async () => {
      await tf.expectEmptyPlan();
      const gets = seen.filter((r) => r.method === 'GET');
      const lists = gets.filter((r) => r.query.includes('limit=')).map((r) => r.path);
      expect(lists.sort()).toEqual(['/v1/admin/routes', '/v1/admin/tenants', '/v1/admin/tenants/drift-0/keys']);
      // one single GET per collection (its first read), not 13
      expect(gets.length - lists.length).toBe(3);
    });

    test('drift made out of band between runs is seen: changes are updates, a deleted resource is re-created', async () => {
      await client.request('PUT', '/v1/admin/tenants/drift-2', { name: 'Renamed out of band' });
      await client.request('PUT', '/v1/admin/routes/shared?tenant_id=drift-2', {
        model_pattern: 'shared-1*',
        providers: [{ provider: 'openai' }],
        priority: 7,
      });
      await client.request('DELETE', '/v1/admin/routes/global-3');
      await client.request('DELETE', `/v1/admin/tenants/drift-0/keys/${tf.attributes('portico_api_key.k[1]').id}`);
      expect(await tf.planActions()).toEqual({
        'portico_tenant.t[2]': ['update'],
        'portico_route.shared[1]': ['update'],
        'portico_route.global[3]': ['create'],
        'portico_api_key.k[1]': ['create'],
      });
      expect((await tf.apply()).code).toBe(0);
      expect((await client.request('GET', '/v1/admin/tenants/drift-2')).body.name).toBe('Drift 2');
      expect((await client.request('GET', '/v1/admin/routes/shared?tenant_id=drift-2')).body.priority).toBe(0);
      expect((await client.request('GET', '/v1/admin/routes/global-3')).status).toBe(200);
      await tf.expectEmptyPlan();
    });

    test('destroy reads by list and deletes every resource, with no request rate-limited', async () => {
      const destroyed = await tf.destroy();
      expect(destroyed.stdout).toContain('Destroy complete! Resources: 13 destroyed');
      expect(seen.filter((r) => r.status === 429)).toEqual([]);
      expect(seen.filter((r) => r.method === 'DELETE' && r.status === 204)).toHaveLength(13);
      expect((await client.request('GET', '/v1/admin/routes')).body.data).toEqual([]);
    });
  },
);
