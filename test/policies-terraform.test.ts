import pino from 'pino';
import { startServer, type RunningServer } from '../server/app';
import { loadConfig } from '../server/config';
import { testPgliteImage } from './support/pglite-image';
import { TerraformDir, terraformAvailable } from './support/terraform';

/**
 * `portico_policy` from the registry with the real terraform binary: it applies (a YAML body from yamlencode, a null
 * target), plans clean afterwards, and a status changed through the API (computed, not in the configuration) leaves
 * the plan clean too. (The Terraform suites at large belong to test/terraform.test.ts; this one only checks that
 * the policy definition is provider-compatible.)
 */
const TOKEN = 'terraform-policy-token-0123456789';
const suite = terraformAvailable() ? describe : describe.skip;

const config = (endpoint: string, limit: number) => `
terraform {
  required_providers {
    portico = { source = "portico/portico" }
  }
}
provider "portico" {
  endpoint = "${endpoint}"
  token    = "${TOKEN}"
}
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
  let server: RunningServer;
  let tf: TerraformDir;
  let admin: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${admin}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
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
    admin = server.adminUrl!;
    tf = new TerraformDir();
    await tf.installProvider();
  }, 120_000);
  afterAll(() => server?.close());

  test('applies, plans clean, survives a status change made through the API, and updates the body', async () => {
    tf.write('main.tf', config(admin, 100));
    expect((await tf.tf('init', '-input=false', '-no-color')).code).toBe(0);
    const apply = await tf.tf('apply', '-auto-approve', '-input=false', '-no-color');
    expect(apply.stderr).toBe('');
    const created = await api('GET', '/v1/admin/policies/acme-rate');
    expect(created.body).toMatchObject({ tenant_id: 'acme', status: 'DRAFT', target: null, priority: 5, version: 1 });
    expect(created.body.body).toMatch(/limit.*100/);
    expect(await tf.planActions()).toEqual({});

    expect((await api('POST', '/v1/admin/policies/acme-rate/status', { status: 'ACTIVE' })).status).toBe(200);
    expect(await tf.planActions()).toEqual({});

    tf.write('main.tf', config(admin, 200));
    expect(await tf.planActions()).toEqual({ 'portico_policy.rate': ['update'] });
    expect((await tf.tf('apply', '-auto-approve', '-input=false', '-no-color')).stderr).toBe('');
    const updated = await api('GET', '/v1/admin/policies/acme-rate');
    expect(updated.body).toMatchObject({ status: 'ACTIVE', version: 2 });
    expect(updated.body.body).toMatch(/limit.*200/);
    expect(await tf.planActions()).toEqual({});
  }, 300_000);
});
