import { typeToJson } from './cty-codec';
import type { Attribute, CtyType } from './schema';

/** What resource and data-source pages share: the attribute table and the block every example starts with. */

export const REQUIRED_PROVIDERS_HCL = `terraform {
  required_providers {
    portico = {
      source = "portico/portico"
    }
  }
}
`;

const typeName = (t: CtyType): string => {
  const j = typeToJson(t);
  return typeof j === 'string'
    ? j
    : t.kind === 'object'
      ? 'object'
      : `${t.kind}(${typeName((t as { element: CtyType }).element)})`;
};

function row(a: Attribute, indent = ''): string[] {
  const flags = [
    a.required ? 'required' : a.optional ? 'optional' : 'computed',
    a.optional && a.computed ? 'computed' : '',
    a.sensitive ? 'sensitive' : '',
    a.writeOnly ? 'write-only' : '',
    a.requiresReplace ? 'forces replacement' : '',
  ]
    .filter(Boolean)
    .join(', ');
  const def = a.default !== undefined ? ` Default \`${JSON.stringify(a.default)}\`.` : '';
  const rest = !a.apiName
    ? ''
    : a.role === 'secret-version'
      ? ` REST field \`${a.apiName}\`.`
      : ` REST field \`${a.apiName}\` (a Terraform meta-argument, so the attribute is \`${a.name}\`).`;
  const lines = [
    `| ${indent}\`${a.name}\` | ${typeName(a.type)} | ${flags} | ${a.description.replace(/\|/g, '\\|')}${def}${rest} |`,
  ];
  for (const n of a.nested?.attributes ?? []) lines.push(...row(n, `${indent}${a.name}.`));
  return lines;
}

export const table = (attrs: Attribute[]) =>
  ['| name | type | | description |', '|---|---|---|---|', ...attrs.flatMap((a) => row(a))].join('\n');
