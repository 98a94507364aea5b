import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNested } from '../server/resources/schemas';
import { dataSourceDocs } from './docs-data-sources';
import { REQUIRED_PROVIDERS_HCL, table } from './docs-table';
import { DATA_MODELS, MODELS, PROVIDER_ATTRIBUTES, type Attribute, type CtyType, type ResourceModel } from './schema';

/** docs/terraform/: one page per resource, generated from the registry like everything else. */
export const DOCS_DIR = join(__dirname, '..', 'docs', 'terraform');

/** The fields whose REST name is a Terraform meta-argument, as the page's note on names. */
function renamed(m: ResourceModel): string {
  const r = m.attributes.filter((a) => a.apiName && a.role !== 'secret-version');
  return r.length ? `, except ${r.map((a) => `\`${a.name}\` (REST \`${a.apiName}\`)`).join(', ')}` : '';
}

/** Example strings for arguments whose values have a shape the server checks (the rest get `example-<name>`). */
const EXAMPLE_STRINGS: Record<string, string> = {
  events: '*',
  model_pattern: 'gpt-4o*',
  url: 'https://example.com/hook',
  target_url: 'https://api.example.com',
  email: 'ada@example.com',
  provider: 'openai',
  body: '{"limit": 100, "window_secs": 60}', // a policy's settings: its type's example is rate_limit
};

/** Optional arguments an example needs anyway: a route must be an LLM route (model_pattern) or an HTTP one. */
const EXAMPLE_EXTRA_ARGUMENTS: Record<string, string[]> = { portico_route: ['model_pattern', 'providers'] };

/** An HCL literal of a type, for a required argument of a generated example (an enum's first value if it has one). */
function exampleValue(a: Attribute, t: CtyType = a.type): string {
  if (a.json && t === a.type) return 'jsonencode({ type = "object" })';
  if (t.kind === 'string') return JSON.stringify(a.enum?.[0] ?? EXAMPLE_STRINGS[a.name] ?? `example-${a.name}`);
  if (t.kind === 'number') return '1';
  if (t.kind === 'bool') return 'true';
  if (t.kind === 'list' || t.kind === 'set') return `[${exampleValue(a, (t as { element: CtyType }).element)}]`;
  if (t.kind === 'map') return `{ key = ${exampleValue(a, (t as { element: CtyType }).element)} }`;
  const nested = a.nested?.attributes.filter((n) => n.required) ?? [];
  return `{ ${nested.map((n) => `${n.name} = ${exampleValue(n)}`).join(', ')} }`;
}

/**
 * A whole configuration using the resource with its required arguments, valid as written (test/hcl-examples runs
 * `terraform validate` on it). Secrets come from `ephemeral` variables so they reach neither plan nor state.
 */
export function exampleUsage(m: ResourceModel): string {
  const extra = EXAMPLE_EXTRA_ARGUMENTS[m.typeName] ?? [];
  const required = m.attributes.filter((a) => a.required || extra.includes(a.name));
  const secrets = required.filter((a) => a.sensitive || a.writeOnly);
  const variables = secrets.map(
    (a) => `variable "${a.name}" {\n  type      = string\n  sensitive = true\n  ephemeral = true\n}\n\n`,
  );
  const width = Math.max(0, ...required.map((a) => a.name.length));
  const args = required.map(
    (a) => `  ${a.name.padEnd(width)} = ${secrets.includes(a) ? `var.${a.name}` : exampleValue(a)}`,
  );
  return `${REQUIRED_PROVIDERS_HCL}
${variables.join('')}resource "${m.typeName}" "example" {
${args.join('\n')}
}
`;
}

/** The Import section: the CLI command and the `import {}` block (Terraform ≥ 1.5). */
function importSection(m: ResourceModel): string {
  const importId = isNested(m.def) ? '<tenant_id>/<id>' : '<id>';
  return `## Import

\`\`\`sh
terraform import ${m.typeName}.example '${importId}'
\`\`\`

or, planned like any other change (Terraform ≥ 1.5):

\`\`\`terraform
import {
  to = ${m.typeName}.example
  id = "${importId}"
}
\`\`\`
`;
}

function page(m: ResourceModel): string {
  const inputs = m.attributes.filter((a) => a.required || a.optional);
  const outputs = m.attributes.filter((a) => !(a.required || a.optional));
  const apiPath = `/v1/admin${m.def.path}`;
  return `# ${m.typeName}

${m.def.description}

Managed through \`${apiPath}\` (${m.def.title}); attribute names are the REST field names${renamed(m)}.

## Example Usage

\`\`\`hcl
${exampleUsage(m)}\`\`\`

## Arguments

${table(inputs)}

## Attributes

${table(outputs)}

${importSection(m)}`;
}

/** docs/terraform/index.md, the registry-style front page: authentication, settings, the Terraform version. */
function indexPage(): string {
  return `# Portico provider

Manages a Portico gateway's tenants, keys, routes and the rest through its admin API.

Requires Terraform ≥ 1.11 for the write-only attributes (\`secret_wo\`, \`api_key_wo\`) and ≥ 1.10 for \`ephemeral\`
variables. Install it with \`npx portico provider install\`; \`terraform init\` then needs no network.

## Authentication

An admin token, from \`token\` or \`PORTICO_TOKEN\`. Pass it as an \`ephemeral\` variable so it is in neither plan nor state:

\`\`\`hcl
terraform {
  required_version = ">= 1.11"
  required_providers {
    portico = {
      source = "portico/portico"
    }
  }
}

variable "portico_token" {
  type      = string
  sensitive = true
  ephemeral = true
}

provider "portico" {
  endpoint = "http://127.0.0.1:8090"
  token    = var.portico_token
}
\`\`\`

## Settings

${table(PROVIDER_ATTRIBUTES)}
`;
}

export function generateDocs(): Map<string, string> {
  const files = new Map<string, string>();
  const header = '<!-- Generated by provider/docs.ts from the resource registry: run `npm run generate`. -->\n';
  for (const m of MODELS) files.set(`${m.typeName}.md`, header + page(m));
  for (const [file, text] of dataSourceDocs(header)) files.set(file, text);
  files.set('index.md', header + indexPage());
  files.set(
    'README.md',
    `${header}# Terraform provider \`portico/portico\`

Install it into Terraform's local mirror with \`npx portico provider install\`, then \`terraform init\` needs no network.

## Provider

${table(PROVIDER_ATTRIBUTES)}

## Resources

${MODELS.map((m) => `- [\`${m.typeName}\`](${m.typeName}.md): ${m.def.description}`).join('\n')}

## Data sources

${DATA_MODELS.map((m) => `- [\`${m.typeName}\`](data_${m.typeName}.md): looks up one ${m.def.title.toLowerCase()} by id`).join('\n')}
`,
  );
  return files;
}

if (require.main === module) {
  mkdirSync(DOCS_DIR, { recursive: true });
  for (const f of readdirSync(DOCS_DIR)) rmSync(join(DOCS_DIR, f));
  for (const [file, text] of generateDocs()) writeFileSync(join(DOCS_DIR, file), text);
  process.stdout.write(`wrote ${generateDocs().size} files to ${DOCS_DIR}\n`);
}
