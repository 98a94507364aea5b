import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CDKTF, cdktfEnv, exec, TSX } from './support/cdktf';
import { startGatewayForTerraform, TerraformDir, terraformAvailable, type TerraformGateway } from './support/terraform';

/**
 * Issue 13, done-when: one CDKTF app with every resource kind (and a data source), run with plain `cdktf deploy`,
 * `diff` and `destroy` on the real terraform binary from a fresh HOME: apply, an empty re-plan, in-place changes,
 * an import of everything into an empty state (the constructs' importFrom), and destroy.
 */

const ROOT = join(__dirname, '..');
const STACK = 'everything';

/** The app: PHASE=changed changes a field of three kinds; IMPORT_IDS ({ name: import id }) imports those resources. */
const APP = `import * as c from ${JSON.stringify(join(ROOT, 'constructs'))};

const changed = process.env.PHASE === 'changed';
const importIds: Record<string, string> = JSON.parse(process.env.IMPORT_IDS ?? '{}');

class Everything extends c.TerraformStack {
  constructor(scope: c.App, id: string) {
    super(scope, id);
    new c.PorticoProvider(this, 'portico', {});
    const tenant = new c.Tenant(this, 'acme', {
      id: 'acme-corp',
      name: changed ? 'Acme Corporation' : 'Acme Corp',
      metadata: { team: 'ml' },
    });
    const tier = new c.RateLimitTier(this, 'gold', { id: 'gold', limit: changed ? 2000 : 1000, windowSecs: 60 });
    const service = new c.Service(this, 'billing', {
      id: 'billing',
      tenantId: tenant.id,
      name: 'Billing',
      targetUrl: 'http://127.0.0.1:9/billing',
    });
    const resources = [
      tenant,
      tier,
      service,
      new c.ApiKey(this, 'prod', { tenantId: tenant.id, name: 'production-key', rateLimitTier: tier.id }),
      new c.Route(this, 'billing_route', {
        id: 'billing-route',
        tenantId: tenant.id,
        pathPrefix: '/billing',
        methods: ['GET', 'POST'],
        serviceId: service.id,
      }),
      new c.Route(this, 'gpt', { id: 'gpt-route', modelPattern: 'gpt*', providers: [{ provider: 'openai' }] }),
      new c.Budget(this, 'monthly', {
        tenantId: tenant.id,
        period: 'MONTHLY',
        limitUsd: changed ? 250.5 : 100,
        enforcement: 'HARD',
      }),
      new c.Webhook(this, 'ops', {
        url: 'https://hooks.example.com/portico',
        events: ['*'],
        secretWo: 'whsec_cdktf_e2e_secret',
        secretWoVersion: 1,
      }),
      new c.Token(this, 'ci', { tenantId: tenant.id, name: 'ci', role: 'viewer' }),
      new c.Credential(this, 'openai', { providerName: 'openai', apiKeyWo: 'sk-cdktf-e2e-0001', apiKeyWoVersion: 1 }),
      new c.Pricing(this, 'gpt4o', {
        providerName: 'openai',
        model: 'gpt-4o',
        inputPerMillionUsd: 2.5,
        outputPerMillionUsd: 10,
      }),
    ];
    const lookup = new c.DataPorticoTenant(this, 'lookup', { id: tenant.id });
    new c.TerraformOutput(this, 'tenant_name', { value: lookup.name });
    for (const resource of resources) {
      const importId = importIds[resource.friendlyUniqueId];
      if (importId) resource.importFrom(importId);
    }
  }
}

const app = new c.App();
new Everything(app, '${STACK}');
app.synth();
`;

const KINDS = [
  'portico_tenant',
  'portico_rate_limit_tier',
  'portico_service',
  'portico_api_key',
  'portico_route',
  'portico_budget',
  'portico_webhook',
  'portico_token',
  'portico_credential',
  'portico_pricing',
];

const haveTerraform = terraformAvailable();
(haveTerraform ? describe : describe.skip)('a CDKTF app with every resource kind, plain cdktf commands', () => {
  let gw: TerraformGateway;
  let tf: TerraformDir;
  const api = async (path: string) => (await gw.api('GET', path)).body;
  const STATE_FILE = `terraform.${STACK}.tfstate`;
  const stateFile = () => join(tf.dir, STATE_FILE);
  const managed = () => tf.resources(STATE_FILE).filter((r) => r.mode === 'managed');
  const cdktf = (args: string[], extra: Record<string, string> = {}) =>
    exec(CDKTF, args, tf.dir, { ...cdktfEnv(tf.home, gw), ...extra });

  beforeAll(async () => {
    gw = await startGatewayForTerraform();
    tf = new TerraformDir();
    await tf.installProvider();
    tf.write('main.ts', APP);
    tf.write('cdktf.json', JSON.stringify({ language: 'typescript', app: `node ${TSX} main.ts` }));
  }, 120_000);
  afterAll(() => gw?.close());

  test('deploy creates every kind; diff then shows no changes', async () => {
    const deploy = await cdktf(['deploy', STACK, '--auto-approve']);
    expect([deploy.code, deploy.out]).toEqual([0, expect.stringContaining('Apply complete! Resources: 11 added')]);
    expect([...new Set(managed().map((r) => r.type))].sort()).toEqual([...KINDS].sort());
    expect(deploy.out).toContain('tenant_name = "Acme Corp"');
    expect((await api('/v1/admin/routes/billing-route')).service_id).toBe('billing');
    expect(tf.stateText(STATE_FILE)).not.toMatch(/whsec_cdktf_e2e_secret|sk-cdktf-e2e-0001/);
    const diff = await cdktf(['diff', STACK]);
    expect([diff.code, diff.out]).toEqual([0, expect.stringContaining('No changes')]);
  }, 300_000);

  test('changed fields are in-place updates; the next diff is empty', async () => {
    const changed = { PHASE: 'changed' };
    const diff = await cdktf(['diff', STACK], changed);
    for (const address of ['portico_tenant.acme', 'portico_rate_limit_tier.gold', 'portico_budget.monthly'])
      expect(diff.out).toMatch(new RegExp(`${address.replace('.', '\\.')}.*will be updated in-place`));
    expect(diff.out).not.toMatch(/must be replaced|will be destroyed/);
    const deploy = await cdktf(['deploy', STACK, '--auto-approve'], changed);
    expect(deploy.out).toContain('Apply complete! Resources: 0 added, 3 changed, 0 destroyed');
    expect((await api('/v1/admin/tenants/acme-corp')).name).toBe('Acme Corporation');
    expect((await api('/v1/admin/rate-limit-tiers/gold')).limit).toBe(2000);
    expect((await cdktf(['diff', STACK], changed)).out).toContain('No changes');
  }, 300_000);

  test('with the state gone, importFrom brings every resource back; then no changes', async () => {
    const importIds = Object.fromEntries(
      managed().map((r) => {
        const { id, tenant_id: tenantId } = r.instances[0].attributes;
        return [r.name, r.type === 'portico_api_key' ? `${tenantId}/${id}` : id];
      }),
    );
    expect(Object.keys(importIds)).toHaveLength(11);
    rmSync(stateFile());
    const env = { PHASE: 'changed', IMPORT_IDS: JSON.stringify(importIds) };
    const deploy = await cdktf(['deploy', STACK, '--auto-approve'], env);
    expect([deploy.code, deploy.out]).toEqual([
      0,
      expect.stringContaining('Apply complete! Resources: 11 imported, 0 added, 0 changed, 0 destroyed'),
    ]);
    expect(managed()).toHaveLength(11);
    const diff = await cdktf(['diff', STACK], env);
    expect([diff.code, diff.out]).toEqual([0, expect.stringContaining('No changes')]);
  }, 300_000);

  test('destroy removes every resource', async () => {
    const destroy = await cdktf(['destroy', STACK, '--auto-approve'], { PHASE: 'changed' });
    expect([destroy.code, destroy.out]).toEqual([
      0,
      expect.stringContaining('Destroy complete! Resources: 11 destroyed'),
    ]);
    expect(existsSync(stateFile())).toBe(true);
    expect(managed()).toEqual([]);
    for (const path of ['tenants', 'routes', 'webhooks', 'rate-limit-tiers', 'credentials', 'pricing'])
      expect([path, (await api(`/v1/admin/${path}`)).data]).toEqual([path, []]);
  }, 300_000);
});
