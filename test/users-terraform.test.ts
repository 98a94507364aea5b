import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startServer, type RunningServer } from '../server/app';
import { loadConfig } from '../server/config';
import { verifyUser } from '../server/users/verify';
import { testPgliteImage } from './support/pglite-image';
import { TerraformDir, terraformAvailable } from './support/terraform';

const TOKEN = 'terraform-users-token-0123456789';
const PASSWORD = 'terraform-given-password';
const suite = terraformAvailable() ? describe : describe.skip;

const config = (endpoint: string, template: string) => `
terraform {
  required_providers {
    portico = { source = "portico/portico" }
  }
}
variable "password" {
  type      = string
  sensitive = true
  ephemeral = true
}
provider "portico" {
  endpoint = "${endpoint}"
  token    = "${TOKEN}"
}
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
  let server: RunningServer;
  let tf: TerraformDir;
  const state = () => JSON.parse(readFileSync(join(tf.dir, 'terraform.tfstate'), 'utf8'));
  const attributes = (type: string) => state().resources.find((r: any) => r.type === type).instances[0].attributes;

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
    tf = new TerraformDir({ TF_VAR_password: PASSWORD });
    await tf.installProvider();
    tf.write('main.tf', config(server.adminUrl!, 'Help with {{product}}.'));
    expect((await tf.tf('init', '-input=false', '-no-color')).code).toBe(0);
  }, 120_000);
  afterAll(() => server?.close());

  test('apply creates both; the password signs in and never reaches the state; a second plan is empty', async () => {
    const apply = await tf.tf('apply', '-auto-approve', '-input=false', '-no-color');
    expect([apply.code, apply.stderr]).toEqual([0, '']);
    expect(await verifyUser(server.gateway.db, 'ada@example.com', PASSWORD)).toMatchObject({ role: 'admin' });
    expect(readFileSync(join(tf.dir, 'terraform.tfstate'), 'utf8')).not.toContain(PASSWORD);
    expect(attributes('portico_user')).toMatchObject({ password_wo: null, password_wo_version: 1, password_set: true });
    expect(attributes('portico_prompt_template')).toMatchObject({ version: 1 });
    expect((await tf.tf('plan', '-detailed-exitcode', '-input=false', '-no-color')).code).toBe(0);
  });

  test('a changed template is an in-place update: a new version', async () => {
    tf.write('main.tf', config(server.adminUrl!, 'Help with {{product}}, kindly.'));
    expect(await tf.planActions()).toEqual({ 'portico_prompt_template.support': ['update'] });
    expect((await tf.tf('apply', '-auto-approve', '-input=false', '-no-color')).code).toBe(0);
    expect(attributes('portico_prompt_template')).toMatchObject({ version: 2 });
  });

  test('terraform import of both is followed by an empty plan', async () => {
    for (const type of ['portico_user', 'portico_prompt_template']) {
      const s = attributes(type);
      const address = `${type}.${type === 'portico_user' ? 'ada' : 'support'}`;
      expect((await tf.tf('state', 'rm', address)).code).toBe(0);
      const imported = await tf.tf('import', '-input=false', '-no-color', address, `${s.tenant_id}/${s.id}`);
      expect(imported.stdout).toContain('Import successful');
    }
    const plan = await tf.tf('plan', '-detailed-exitcode', '-input=false', '-no-color');
    expect([plan.code, plan.stdout]).toEqual([0, expect.stringContaining('No changes')]);
  });
});
