import { startGatewayForTerraform, TerraformDir, terraformAvailable, type TerraformGateway } from './support/terraform';

/**
 * `portico_policy` from the registry with the real terraform binary: it applies (a YAML body from yamlencode, a null
 * target), plans clean afterwards, and a status changed through the API (computed, not in the configuration) leaves
 * the plan clean too. (The Terraform suites at large belong to test/terraform.test.ts; this one only checks that
 * the policy definition is provider-compatible.)
 */
const suite = terraformAvailable() ? describe : describe.skip;

const config = (gw: TerraformGateway, limit: number) => `${gw.hcl}
resource "portico_tenant" "acme" {
  id   = "acme"
  name = "Acme"
}
resource "portico_policy" "rate" {
  id        = "acme-rate"
  tenant_id = portico_tenant.acme.id
  name      = "Acme rate"
  type      = "rate_limit"
  priority  = 5
  body      = yamlencode({ limit = ${limit}, window_secs = 60 })
}
`;

suite('portico_policy with terraform', () => {
  let gw: TerraformGateway;
  let tf: TerraformDir;

  beforeAll(async () => {
    gw = await startGatewayForTerraform();
    tf = new TerraformDir();
    await tf.installProvider();
  }, 120_000);
  afterAll(() => gw?.close());

  test('applies, plans clean, survives a status change made through the API, and updates the body', async () => {
    tf.write('main.tf', config(gw, 100));
    expect((await tf.init()).code).toBe(0);
    const apply = await tf.apply();
    expect(apply.stderr).toBe('');
    const created = await gw.api('GET', '/v1/admin/policies/acme-rate');
    expect(created.body).toMatchObject({ tenant_id: 'acme', status: 'DRAFT', target: null, priority: 5, version: 1 });
    expect(created.body.body).toMatch(/limit.*100/);
    expect(await tf.planActions()).toEqual({});

    expect((await gw.api('POST', '/v1/admin/policies/acme-rate/status', { status: 'ACTIVE' })).status).toBe(200);
    expect(await tf.planActions()).toEqual({});

    tf.write('main.tf', config(gw, 200));
    expect(await tf.planActions()).toEqual({ 'portico_policy.rate': ['update'] });
    expect((await tf.apply()).stderr).toBe('');
    const updated = await gw.api('GET', '/v1/admin/policies/acme-rate');
    expect(updated.body).toMatchObject({ status: 'ACTIVE', version: 2 });
    expect(updated.body.body).toMatch(/limit.*200/);
    expect(await tf.planActions()).toEqual({});
  }, 300_000);
});
