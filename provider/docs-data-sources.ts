import { REQUIRED_PROVIDERS_HCL, table } from './docs-table';
import { DATA_MODELS, type ResourceModel } from './schema';

/** docs/terraform/data_<type>.md: one page per data source, from the same models the provider serves. */
function page(m: ResourceModel): string {
  const inputs = m.attributes.filter((a) => a.required || a.optional);
  const outputs = m.attributes.filter((a) => !(a.required || a.optional));
  const owned = inputs.some((a) => a.role === 'tenant');
  return `# Data source ${m.typeName}

Looks up one ${m.def.title} by id with a GET of \`/v1/admin${m.def.path}/<id>\`${owned ? ' (`?tenant_id=` when given)' : ''}; a missing one is an error naming the kind and id.${m.def.secret ? ' The secret is never read: only its metadata.' : ''}

## Arguments

${table(inputs)}

## Attributes

${table(outputs)}

## Example

\`\`\`hcl
${REQUIRED_PROVIDERS_HCL}
data "${m.typeName}" "example" {
  id = "example"
}

output "example_id" {
  value = data.${m.typeName}.example.id
}
\`\`\`
`;
}

/** The data source pages by file name, each starting with `header`. */
export function dataSourceDocs(header: string): Map<string, string> {
  return new Map(DATA_MODELS.map((m) => [`data_${m.typeName}.md`, header + page(m)]));
}
