import { z } from 'zod';

/**
 * The rules a definition's zod schema enforces, as a sentence appended to its `.describe()` text: allowed values,
 * ranges, lengths and formats. Derived, never written by hand, so the provider schema, docs/terraform and the
 * constructs' JSDoc state exactly what the API checks (issue 13, item 14).
 */

type Json = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Json[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  pattern?: string;
  items?: Json;
  properties?: Record<string, Json>;
  additionalProperties?: Json | boolean;
  propertyNames?: Json;
};

const num = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 6 });
const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

const FORMATS: Record<string, string> = {
  uri: 'a URL',
  'date-time': 'an RFC 3339 date-time',
  email: 'an email address',
  uuid: 'a UUID',
};

/** `from 1 to 600,000`, `above 0, at most 1,000`, `at least 1`, or ''. */
function range(j: Json): string {
  // zod's .int() alone sets the safe-integer bounds: no rule worth naming
  if (j.minimum === Number.MIN_SAFE_INTEGER && j.maximum === Number.MAX_SAFE_INTEGER) return '';
  if (j.minimum !== undefined && j.maximum !== undefined) return `from ${num(j.minimum)} to ${num(j.maximum)}`;
  const low =
    j.minimum !== undefined
      ? `at least ${num(j.minimum)}`
      : j.exclusiveMinimum !== undefined
        ? `above ${num(j.exclusiveMinimum)}`
        : '';
  const high =
    j.maximum !== undefined
      ? `at most ${num(j.maximum)}`
      : j.exclusiveMaximum !== undefined
        ? `below ${num(j.exclusiveMaximum)}`
        : '';
  return [low, high].filter(Boolean).join(', ');
}

/** `1 to 200 characters`, `at most 32 items`: a length or a count. */
function count(min: number | undefined, max: number | undefined, unit: string): string {
  const plural = (n: number) => `${num(n)} ${unit}${n === 1 ? '' : 's'}`;
  if (min !== undefined && min > 0 && max !== undefined)
    return min === max ? `exactly ${plural(max)}` : `${num(min)} to ${plural(max)}`;
  if (max !== undefined) return `at most ${plural(max)}`;
  if (min !== undefined && min > 0) return `at least ${plural(min)}`;
  return '';
}

/** A lower-case phrase for one JSON schema, or '' when it states no rule worth telling. */
function phrase(j: Json): string {
  if (j.enum) return `one of ${j.enum.map(code).join(', ')}`;
  if (j.const !== undefined) return code(j.const);
  if (j.anyOf) {
    const branches = j.anyOf.filter((b) => b.type !== 'null');
    return branches.length === 1 ? phrase(branches[0]!) : branches.map(phrase).filter(Boolean).join(' or ');
  }
  switch (j.type) {
    case 'integer':
    case 'number': {
      const r = range(j);
      return r ? `${j.type === 'integer' ? 'an integer' : 'a number'} ${r}` : j.type === 'integer' ? 'an integer' : '';
    }
    case 'string': {
      const what = j.format ? (FORMATS[j.format] ?? `a string in ${j.format} format`) : '';
      const matching = !j.format && j.pattern ? `matching ${code(j.pattern)}` : '';
      const length = count(j.minLength, j.maxLength, 'character');
      if (!what && !matching && !length) return '';
      return [what || 'a string', length && `of ${length}`, matching].filter(Boolean).join(' ');
    }
    case 'array': {
      const items = count(j.minItems, j.maxItems, 'item');
      const each = j.items ? phrase(j.items) : '';
      if (!items && !each) return '';
      return [items || 'a list', each && `each ${each}`].filter(Boolean).join(', ');
    }
    case 'object': {
      if (typeof j.additionalProperties !== 'object') return '';
      const keys = j.propertyNames ? phrase(j.propertyNames) : '';
      const values = phrase(j.additionalProperties);
      if (!keys && !values) return '';
      // `A map; keys: a string of 1 to 128 characters; values: …`
      return ['a map', keys && `keys: ${keys}`, values && `values: ${values}`].filter(Boolean).join('; ');
    }
    default:
      return '';
  }
}

/** The rules of a field as one sentence (`One of \`HARD\`, \`SOFT\`.`), or '' when it has none. */
export function rulesOf(schema: z.ZodType): string {
  let json: Json;
  try {
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  } catch {
    return ''; // a schema JSON Schema cannot express states no rule we could name
  }
  const text = httpOnly(schema) ? phrase(json).replace('a URL', 'an http(s) URL') : phrase(json);
  return text ? `${text[0]!.toUpperCase()}${text.slice(1)}.` : '';
}

type Wrapper = { _zod: { def: { innerType?: z.ZodType; in?: z.ZodType; protocol?: RegExp } } };

/** A `z.url({ protocol: /^https?$/ })`: JSON Schema's `uri` format cannot say so. */
function httpOnly(schema: z.ZodType): boolean {
  for (let s: z.ZodType | undefined = schema; s;) {
    const def: Wrapper['_zod']['def'] = (s as unknown as Wrapper)._zod.def;
    if (def.protocol) return def.protocol.test('https') && def.protocol.test('http') && !def.protocol.test('ftp');
    s = def.innerType ?? def.in;
  }
  return false;
}

/** The `.describe()` text of a schema or of what it wraps (`slug().nullable()` keeps the slug's text). */
export function describedAs(schema: z.ZodType): string | undefined {
  for (let s: z.ZodType | undefined = schema; s;) {
    if (s.description) return s.description;
    const def: Wrapper['_zod']['def'] = (s as unknown as Wrapper)._zod.def;
    s = def.innerType ?? def.in;
  }
  return undefined;
}

/** A field's description: its `.describe()` text, then its rules. */
export const describeField = (schema: z.ZodType, fallback = '') =>
  [describedAs(schema) ?? fallback, rulesOf(schema)].filter(Boolean).join(' ');
