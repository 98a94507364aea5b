import type { z } from 'zod';
import { schemasFor } from '../server/resources/schemas';
import { hasUnknown, UNKNOWN, type CtyValue } from './cty-codec';
import { parseJsonText } from './json-text';
import { attributeFor, plain, type Problem } from './problems';
import { PROVIDER_CONFIG, type Attribute, type ResourceModel } from './schema';

type Obj = Record<string, CtyValue>;
type Issue = z.core.$ZodIssue;

/** zod's type names as Terraform users know the types. */
const TYPE_WORDS: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  record: 'a map',
};

/** What a zod issue says, in words for someone reading a plan: "must be one of ACTIVE, SUSPENDED". */
export function issueMessage(issue: Issue): string {
  const custom = !/^(Invalid|Too (small|big)|Unrecognized)/.test(issue.message);
  switch (issue.code) {
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${String(issue.values[0])}`
        : `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_type':
      if (/received undefined$/.test(issue.message)) return 'is required';
      return `must be ${TYPE_WORDS[issue.expected] ?? `a ${issue.expected}`}`;
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const word = issue.code === 'too_small' ? 'at least' : 'at most';
      const strict = issue.inclusive === false ? (issue.code === 'too_small' ? 'more than' : 'less than') : word;
      const plural = Number(bound) === 1 ? '' : 's';
      if (issue.origin === 'string') return `must be ${strict} ${String(bound)} character${plural} long`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return `must have ${strict} ${String(bound)} item${plural}`;
      return `must be ${strict} ${String(bound)}`;
    }
    case 'invalid_format':
      if (custom) return issue.message;
      if (issue.format === 'datetime') return 'must be a date-time with an offset, such as 2030-01-31T12:00:00Z';
      return `must be a valid ${issue.format}`;
    case 'invalid_union': {
      // each branch's own words; a branch with a message of the definition's own says it best
      const branches = issue.errors.flat();
      const own = branches.find((b) => !/^(Invalid|Too (small|big))/.test(b.message));
      return own ? own.message : [...new Set(branches.map(issueMessage))].join(', or ');
    }
    case 'unrecognized_keys':
      return 'is not a known field';
    default:
      return issue.message;
  }
}

/** Problems of one value against its schema, on Terraform attribute paths (`top` is the attribute's name). */
function check(schema: z.ZodType, value: unknown, top: string): Problem[] {
  const parsed = schema.safeParse(value);
  if (parsed.success) return [];
  return parsed.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((k) => problem([top, ...issue.path, k].join('.'), 'is not a known field'));
    return [problem([top, ...issue.path].map(String).join('.'), issueMessage(issue))];
  });
}

const problem = (path: string, message: string): Problem => ({
  summary: `Invalid ${path}`,
  detail: `${path} ${message}`,
  path,
});

/**
 * A number Terraform sent as a decimal no float64 holds (`10 / 3`, or more than 17 significant digits) stays text
 * (cty-codec.ts): the API keeps float64s, so planning it would end in a value that differs from the configuration.
 */
function impreciseNumbers(a: Attribute, v: CtyValue): Problem[] {
  if (a.type.kind === 'number' && typeof v === 'string')
    return [problem(a.name, `has more digits than Portico keeps (a 64-bit float, about 17 significant digits): ${v}`)];
  return [];
}

/**
 * ValidateResourceConfig: each known value against the create schema the API itself checks (fields, a caller-given
 * id, tenant_id, the write-only secret), then the definition's cross-field rules once everything is known.
 */
export function validateConfig(model: ResourceModel, config: Obj): Problem[] {
  const problems: Problem[] = [];
  const body: Record<string, unknown> = {};
  let allKnown = true;
  for (const [field, schema] of Object.entries(schemasFor(model.def).create.shape as Record<string, z.ZodType>)) {
    const a = attributeFor(model, field);
    if (!a) continue;
    const v = config[a.name] ?? null;
    if (hasUnknown(v)) {
      allKnown = false;
      continue;
    }
    // a write-only secret left out keeps the stored one on an update; the API says so on a create that needs one
    if (a.writeOnly && v === null) continue;
    const text = a.json && v !== null ? parseJsonText(v) : undefined;
    if (a.json && v !== null && !text) {
      problems.push(problem(a.name, 'must be JSON text, such as jsonencode({ type = "object" })'));
      continue;
    }
    // JSON text is checked as the JSON it holds, nulls and all
    const value = v === null ? undefined : text ? text.value : stripNulls(plain(v));
    const found = [...impreciseNumbers(a, v), ...check(schema, value, a.name)];
    problems.push(...found);
    if (!found.length) body[field] = schema.parse(value);
  }
  if (allKnown && !problems.length && model.def.check) {
    const tenant = config.tenant_id;
    for (const p of model.def.check({
      ...body,
      tenant_id: tenant === UNKNOWN ? 'unknown' : (tenant as string | null),
    } as never)) {
      const [field, ...rest] = p.path.split('.');
      const name = attributeFor(model, field)?.name ?? field;
      problems.push(problem([name, ...rest].join('.'), p.message));
    }
  }
  return problems;
}

/** ValidateProviderConfig / ConfigureProvider: the provider block (or its environment defaults) against its schema. */
export function validateProviderConfig(config: { endpoint?: unknown; token?: unknown }): Problem[] {
  const problems: Problem[] = [];
  for (const [name, schema] of Object.entries(PROVIDER_CONFIG.shape)) {
    const v = config[name as keyof typeof config];
    if (v === null || v === undefined || v === UNKNOWN) continue;
    problems.push(...check(schema, v, name));
  }
  return problems;
}

/** Nested objects arrive with every attribute, null where unset; the API's schemas want those left out. */
function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, e]) => e !== null)
        .map(([k, e]) => [k, stripNulls(e)]),
    );
  return v;
}
