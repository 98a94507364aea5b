import { verifyUser } from '../server/users/verify';
import {
  type TerraformGateway,
  TerraformDir,
  terraformAvailable,
  startGatewayForTerraform,
  secretVariable,
} from './support/terraform';

const PASSWORD = 'terraform-given-password';
const suite = terraformAvailable() ? describe : describe.skip;

const config = (gw: TerraformGateway, template: string) => `${gw.hcl}${secretVariable('password')}
resource "portico_tenant" "acme" {
  id   = "acme"
  name = "Acme"
}
resource "portico_user" "ada" {
  tenant_id           = portico_tenant.acme.id
  email               = "Ada@Example.com"
  name                = "Ada"
  role                = "admin"
  password_wo         = var.password
  password_wo_version = 1
}
resource "portico_prompt_template" "support" {
  id        = "support"
  tenant_id = portico_tenant.acme.id
  name      = "Support"
  template  = "${template}"
  variables = ["product"]
}
`;

suite('users and prompt templates through real terraform', () => {
  jest.setTimeout(180_000);
  let gw: TerraformGateway;
  let tf: TerraformDir;

  beforeAll(async () => {
    gw = await startGatewayForTerraform();
    tf = await TerraformDir.initialised(config(gw, 'Help with {{product}}.'), { TF_VAR_password: PASSWORD });
  }, 120_000);
  afterAll(() => gw?.close());

  test('apply creates both; the password signs in and never reaches the state; a second plan is empty', async () => {
    const apply = await tf.apply();
    expect([apply.code, apply.stderr]).toEqual([0, '']);
    expect(await verifyUser(gw.server.gateway.db, 'ada@example.com', PASSWORD)).toMatchObject({ role: 'admin' });
    expect(tf.stateText()).not.toContain(PASSWORD);
    expect(tf.attributes('portico_user.ada')).toMatchObject({
      password_wo: null,
      password_wo_version: 1,
      password_set: true,
    });
    expect(tf.attributes('portico_prompt_template.support')).toMatchObject({ version: 1 });
    await tf.expectEmptyPlan();
  });

  test('a changed template is an in-place update: a new version', async () => {
    tf.write('main.tf', config(gw, 'Help with {{product}}, kindly.'));
    expect(await tf.planActions()).toEqual({ 'portico_prompt_template.support': ['update'] });
    expect((await tf.apply()).code).toBe(0);
    expect(tf.attributes('portico_prompt_template.support')).toMatchObject({ version: 2 });
  });

  test('terraform import of both is followed by an empty plan', async () => {
    for (const address of ['portico_user.ada', 'portico_prompt_template.support']) {
      const s = tf.attributes(address);
      await tf.expectReimported(address, `${s.tenant_id}/${s.id}`);
    }
    await tf.expectEmptyPlan();
  });
});
