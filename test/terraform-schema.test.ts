import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startServer, type RunningServer } from '../server/app';
import { loadConfig } from '../server/config';
import { testPgliteImage } from './support/pglite-image';
import { TerraformDir, terraformAvailable } from './support/terraform';

const TOKEN = 'terraform-schema-token-0123456789';
const suite = terraformAvailable() ? describe : describe.skip;

/** A nested JSON Schema, as `schema` takes it: JSON text (HCL's jsonencode, or any JSON text). */
const config = (endpoint: string, schema: string) => `
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
resource "portico_schema" "invoice" {
  id        = "invoice"
  tenant_id = portico_tenant.acme.id
  schema    = ${schema}
}
`;

const NESTED = `jsonencode({
    type = "object"
    properties = {
      total = { type = "number", minimum = 0 }
      lines = {
        type  = "array"
        items = { type = "object", properties = { sku = { type = "string" } }, required = ["sku"] }
      }
    }
    required = ["total"]
  })`;
/** The same JSON as NESTED, as a heredoc with other key order and white space. */
const REORDERED = `<<-EOT
    {"required": ["total"],
     "properties": {"lines": {"items": {"required": ["sku"], "properties": {"sku": {"type": "string"}}, "type": "object"},
                              "type": "array"},
                    "total": {"minimum": 0, "type": "number"}},
     "type": "object"}
  EOT`;

/**
 * `portico_schema` through the real terraform binary: the free-form `schema` object is JSON text in Terraform, so a
 * nested JSON Schema can be written; semantically equal text plans no change; a change updates in place; import.
 */
suite('portico_schema with a nested JSON Schema through real terraform', () => {
  jest.setTimeout(180_000);
  let server: RunningServer;
  let tf: TerraformDir;
  const attributes = () =>
    JSON.parse(readFileSync(join(tf.dir, 'terraform.tfstate'), 'utf8')).resources.find(
      (r: any) => r.type === 'portico_schema',
    ).instances[0].attributes;
  const stored = async (): Promise<any> => {
    const row = await server.gateway.db
      .selectFrom('resources')
      .select('data')
      .where('kind', '=', 'schema')
      .executeTakeFirstOrThrow();
    return row.data.schema;
  };
  const plan = () => tf.tf('plan', '-detailed-exitcode', '-input=false', '-no-color');

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
    tf = new TerraformDir();
    await tf.installProvider();
    tf.write('main.tf', config(server.adminUrl!, NESTED));
    expect((await tf.tf('init', '-input=false', '-no-color')).code).toBe(0);
  }, 120_000);
  afterAll(() => server?.close());

  test('apply stores the nested schema as an object; a second plan is empty, also for reordered JSON text', async () => {
    const apply = await tf.tf('apply', '-auto-approve', '-input=false', '-no-color');
    expect([apply.code, apply.stderr]).toEqual([0, '']);
    expect(await stored()).toEqual({
      type: 'object',
      properties: {
        total: { type: 'number', minimum: 0 },
        lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } },
      },
      required: ['total'],
    });
    expect(JSON.parse(attributes().schema)).toEqual(await stored());
    expect((await plan()).code).toBe(0);
    tf.write('main.tf', config(server.adminUrl!, REORDERED));
    const again = await plan();
    expect([again.code, again.stdout]).toEqual([0, expect.stringContaining('No changes')]);
  });

  test('a changed schema is an in-place update; text that is not JSON is refused at plan', async () => {
    tf.write('main.tf', config(server.adminUrl!, NESTED.replace('minimum = 0', 'minimum = 1')));
    expect(await tf.planActions()).toEqual({ 'portico_schema.invoice': ['update'] });
    expect((await tf.tf('apply', '-auto-approve', '-input=false', '-no-color')).code).toBe(0);
    expect((await stored()).properties.total).toEqual({ type: 'number', minimum: 1 });
    expect((await plan()).code).toBe(0);
    tf.write('main.tf', config(server.adminUrl!, '"{not json"'));
    const bad = await plan();
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringContaining('must be JSON text')]);
    tf.write('main.tf', config(server.adminUrl!, NESTED.replace('minimum = 0', 'minimum = 1')));
  });

  test('terraform import is followed by an empty plan', async () => {
    expect((await tf.tf('state', 'rm', 'portico_schema.invoice')).code).toBe(0);
    const imported = await tf.tf('import', '-input=false', '-no-color', 'portico_schema.invoice', 'acme/invoice');
    expect(imported.stdout).toContain('Import successful');
    expect(JSON.parse(attributes().schema).properties.total).toEqual({ type: 'number', minimum: 1 });
    const after = await plan();
    expect([after.code, after.stdout]).toEqual([0, expect.stringContaining('No changes')]);
  });
});
