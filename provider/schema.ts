import { z } from 'zod';
import { RESOURCES, type Kind, type ResourceDefinition } from '../server/resources';
import { isJsonValue } from '../server/resources/define';
import { hasTenantField, schemasFor } from '../server/resources/schemas';
import { describedAs, describeField, rulesOf } from './descriptions';
import { walk } from './zod-walk';

/** A cty type, as the provider needs it. */
export type CtyType =
  | { kind: 'string' | 'number' | 'bool' | 'dynamic' }
  | { kind: 'list' | 'set' | 'map'; element: CtyType }
  | { kind: 'object'; attributes: Record<string, CtyType> };

/** One Terraform attribute, derived from a resource definition. */
export interface Attribute {
  name: string;
  type: CtyType;
  required: boolean;
  optional: boolean;
  computed: boolean;
  sensitive: boolean;
  writeOnly: boolean;
  description: string;
  /** The value the server fills in when the attribute is left out (planned instead of "known after apply"). */
  default?: unknown;
  /** Changing it means a new resource. */
  requiresReplace: boolean;
  /** The values a string (or each string of a list) may take: a zod enum. */
  enum?: string[];
  /** A free-form JSON object of the API (`jsonObject()`), as JSON text (`jsonencode(…)`). */
  json?: boolean;
  /** Nested attributes (objects, lists of objects) carry their own flags. */
  nested?: { nesting: 'single' | 'list'; attributes: Attribute[] };
  /** The REST field it maps to, when the name differs (`secret_wo_version` ↔ `secret_version`, `provider_name`). */
  apiName?: string;
  /**
   * Where the attribute comes from: a desired-state field, the mechanism (id, tenant), the server, a secret (a
   * generated one shown once, or a write-only one), a secret the server made because none was given
   * (`server-secret`), or an `option` of the provider alone that the API never sees (`force_destroy`).
   */
  role: 'field' | 'id' | 'tenant' | 'computed' | 'secret' | 'server-secret' | 'secret-version' | 'timestamp' | 'option';
}

/**
 * Terraform's meta-arguments: a resource attribute cannot have these names (`provider = "openai"` would name a
 * Terraform provider). A top-level REST field so named is the attribute `<name>_name` (CONTRACT.md section 5).
 */
const META_ARGUMENTS = ['provider', 'count', 'for_each', 'depends_on', 'lifecycle', 'connection', 'provisioner'];

/** The Terraform attribute name of a top-level REST field; nested attributes keep theirs. */
export const attributeName = (field: string) => (META_ARGUMENTS.includes(field) ? `${field}_name` : field);

/** The REST field an attribute maps to. */
export const restName = (a: Attribute) => a.apiName ?? a.name;

/** A top-level attribute for a REST field, renamed when its name is a meta-argument. */
function topLevel(field: string, schema: z.ZodType, role: Attribute['role']): Attribute {
  const a = fieldAttribute(attributeName(field), schema, role);
  if (a.name !== field) a.apiName = field;
  return a;
}

export interface ResourceModel {
  typeName: string;
  def: ResourceDefinition;
  attributes: Attribute[];
  type: CtyType;
}

const plain = {
  required: false,
  optional: false,
  computed: false,
  sensitive: false,
  writeOnly: false,
  requiresReplace: false,
  description: '',
};

/** The attribute for one zod field: its cty type, whether it is required, and its default. */
function fieldAttribute(name: string, schema: z.ZodType, role: Attribute['role']): Attribute {
  const w = walk(schema);
  const base: Attribute = {
    ...plain,
    name,
    type: { kind: 'string' },
    role,
    required: !w.optional,
    optional: w.optional,
    computed: w.optional && w.hasDefault,
  };
  // the definition's `.describe()` and the rules its schema enforces: the same text in the Terraform schema, its docs
  // and the constructs' JSDoc (the OpenAPI document has the `.describe()` text and the rules as JSON Schema)
  base.description = describeField(schema);
  if (w.hasDefault) base.default = w.default;
  if (w.values) base.enum = w.values;
  if (w.kind === 'number') base.type = { kind: 'number' };
  else if (w.kind === 'boolean') base.type = { kind: 'bool' };
  else if (w.kind === 'record' && isJsonValue(w.element)) {
    base.json = true;
    base.description =
      `${base.description} JSON text: \`jsonencode({…})\` in HCL, \`JSON.stringify(…)\` in CDKTF.`.trim();
  } else if (w.kind === 'record') base.type = { kind: 'map', element: fieldAttribute('v', w.element!, role).type };
  else if (w.kind === 'object') {
    const attributes = Object.entries(w.shape!).map(([k, v]) => fieldAttribute(k, v, role));
    base.nested = { nesting: 'single', attributes };
    base.type = objectType(attributes);
  } else if (w.kind === 'array') {
    const inner = walk(w.element!);
    if (inner.kind === 'object') {
      const attributes = Object.entries(inner.shape!).map(([k, v]) => fieldAttribute(k, v, role));
      base.nested = { nesting: 'list', attributes };
      base.type = { kind: 'list', element: objectType(attributes) };
    } else {
      const element = fieldAttribute('e', w.element!, role);
      base.type = { kind: 'list', element: element.type };
      if (element.enum) base.enum = element.enum;
    }
  }
  return base;
}

const objectType = (attributes: Attribute[]): CtyType => ({
  kind: 'object',
  attributes: Object.fromEntries(attributes.map((a) => [a.name, a.type])),
});

/** What the id attribute says: who names it, and the shape it takes. */
function idDescription(def: ResourceDefinition): string {
  const idSchema = (schemasFor(def).create.shape as Record<string, z.ZodType>).id;
  if (def.id.source === 'server') return `Identifier, made by the server (\`${def.id.prefix}…\`).`;
  const who =
    def.id.source === 'caller' ? 'Identifier, chosen by you.' : "Identifier: yours, or left out, the server's.";
  return `${who} ${idSchema ? describedAs(idSchema) : ''}`.trim();
}

const TIMESTAMPS = [
  ['created_at', 'When it was created: an RFC 3339 date-time, UTC.'],
  ['updated_at', 'When it last changed: an RFC 3339 date-time, UTC.'],
] as const;

/** Derives a resource's Terraform attributes from its definition (CONTRACT.md section 5: the REST field names). */
export function resourceModel(def: ResourceDefinition): ResourceModel {
  const attrs: Attribute[] = [];
  const input = schemasFor(def).create.shape as Record<string, z.ZodType>;
  const idAttr: Attribute = {
    ...plain,
    name: 'id',
    type: { kind: 'string' },
    role: 'id',
    requiresReplace: true,
    description: idDescription(def),
  };
  if (def.id.source === 'caller') attrs.push({ ...idAttr, required: true });
  else if (def.id.source === 'either') attrs.push({ ...idAttr, optional: true, computed: true });
  else attrs.push({ ...idAttr, computed: true });
  if (hasTenantField(def)) {
    const required = def.scope === 'tenant';
    attrs.push({
      ...plain,
      name: 'tenant_id',
      type: { kind: 'string' },
      role: 'tenant',
      required,
      optional: !required,
      requiresReplace: true,
      description: `${required ? 'The owning tenant.' : 'The owning tenant; null for a global one.'} ${describedAs(input.tenant_id!)}`,
    });
  }
  const versionField = def.secret?.mode === 'encrypted' ? def.secret.versionField : undefined;
  for (const [name, schema] of Object.entries(def.fields.shape)) {
    if (name === versionField) continue; // surfaces as <secret>_wo_version below
    const a = topLevel(name, schema as z.ZodType, 'field');
    if (def.updatable === false || (def.immutable as string[] | undefined)?.includes(name)) a.requiresReplace = true;
    attrs.push(a);
  }
  for (const [name, schema] of Object.entries(def.computed.shape)) {
    attrs.push({
      ...topLevel(name, schema as z.ZodType, 'computed'),
      required: false,
      optional: false,
      computed: true,
      default: undefined,
    });
  }
  const secret = def.secret;
  if (secret?.mode === 'generated') {
    attrs.push({
      ...plain,
      name: secret.field,
      type: { kind: 'string' },
      role: 'secret',
      computed: true,
      sensitive: true,
      description: 'The plaintext secret, known only at creation.',
    });
  } else if (secret?.mode === 'encrypted') {
    attrs.push({
      ...plain,
      name: `${secret.field}_wo`,
      type: { kind: 'string' },
      role: 'secret',
      optional: true,
      sensitive: true,
      writeOnly: true,
      description: describeField(input[secret.field]!, 'Write-only secret: sent to the API, never stored in state.'),
    });
    attrs.push({
      ...plain,
      name: `${secret.field}_wo_version`,
      type: { kind: 'number' },
      role: 'secret-version',
      optional: true,
      apiName: secret.versionField,
      description:
        `Change it to send ${secret.field}_wo again (rotation); a changed ${secret.field}_wo alone is not sent (the plan warns). ${rulesOf(def.fields.shape[secret.versionField!] as z.ZodType)}`.trim(),
    });
    if (secret.generatePrefix && secret.showOnCreate)
      attrs.push({
        ...plain,
        name: secret.field,
        type: { kind: 'string' },
        role: 'server-secret',
        computed: true,
        sensitive: true,
        description: `The secret the server made when \`${secret.field}_wo\` was not given, kept so what receives its deliveries can verify them; null when \`${secret.field}_wo\` is given.`,
      });
    if (secret.setField)
      attrs.push({
        ...plain,
        name: secret.setField,
        type: { kind: 'bool' },
        role: 'computed',
        computed: true,
        description: `Whether the server holds a ${secret.field} (never readable).`,
      });
    if (secret.last4Field)
      attrs.push({
        ...plain,
        name: secret.last4Field,
        type: { kind: 'string' },
        role: 'computed',
        computed: true,
        description: `The last 4 characters of the ${secret.field}, to tell keys apart.`,
      });
  }
  if (def.scope === 'tenant-self')
    attrs.push({
      ...plain,
      name: 'force_destroy',
      type: { kind: 'bool' },
      role: 'option',
      optional: true,
      computed: true,
      default: false,
      description:
        "Destroying it also deletes what it still owns, even resources made outside Terraform (the API's `?cascade=true`). Apply it as true before the destroy.",
    });
  for (const [name, description] of TIMESTAMPS)
    attrs.push({ ...plain, name, type: { kind: 'string' }, role: 'timestamp', computed: true, description });
  return { typeName: `portico_${def.kind}`, def, attributes: attrs, type: objectType(attrs) };
}

/** Every resource of the registry as a Terraform resource type. */
export const MODELS: ResourceModel[] = RESOURCES.map(resourceModel);
export const modelByType = (typeName: string) => MODELS.find((m) => m.typeName === typeName);

/** The provider block: where the admin API is and the token to use (validated at plan and configure). */
export const PROVIDER_CONFIG = z.strictObject({
  endpoint: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:8090' })
    .optional()
    .describe('Admin API base URL; defaults to PORTICO_ENDPOINT, then http://127.0.0.1:8090.'),
  token: z.string().min(1).optional().describe('Admin API token; defaults to PORTICO_TOKEN.'),
});

export const PROVIDER_ATTRIBUTES: Attribute[] = Object.entries(PROVIDER_CONFIG.shape).map(([name, schema]) => ({
  ...fieldAttribute(name, schema, 'field'),
  sensitive: name === 'token',
}));

/**
 * The kinds Terraform can look up by id as data sources (issue 13). Every other attribute is read back; a tenant's
 * resource may name its owner (`tenant_id`, the API's `?tenant_id=`), since ids are unique per tenant only.
 */
export const DATA_SOURCE_KINDS = [
  'tenant',
  'service',
  'rate_limit_tier',
  'route',
  'credential',
] as const satisfies readonly Kind[];

/** An attribute the data source only reports: computed, nested ones too, with no default and no replacement. */
function readOnly(a: Attribute): Attribute {
  const nested = a.nested && { ...a.nested, attributes: a.nested.attributes.map(readOnly) };
  return { ...a, required: false, optional: false, computed: true, requiresReplace: false, default: undefined, nested };
}

/** A data source's attributes: `id` required, `tenant_id` optional, the rest computed; no secret, no option. */
export function dataSourceModel(resource: ResourceModel): ResourceModel {
  const hidden: Attribute['role'][] = ['secret', 'server-secret', 'option'];
  const attributes = resource.attributes
    .filter((a) => !a.writeOnly && !hidden.includes(a.role))
    .map((a) => {
      const reported = readOnly(a);
      if (a.role === 'id') return { ...reported, required: true, computed: false, description: 'The id to look up.' };
      if (a.role === 'tenant')
        return { ...reported, optional: true, description: 'The owning tenant: names which one when ids repeat.' };
      return reported;
    });
  return { ...resource, attributes, type: objectType(attributes) };
}

export const DATA_MODELS: ResourceModel[] = MODELS.filter((m) =>
  (DATA_SOURCE_KINDS as readonly string[]).includes(m.def.kind),
).map(dataSourceModel);
export const dataModelByType = (typeName: string) => DATA_MODELS.find((m) => m.typeName === typeName);
