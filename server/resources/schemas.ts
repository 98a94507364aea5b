import { z } from 'zod';
import { resourceId, slug, type ResourceDefinition } from './define';

/**
 * The request and response shapes of a resource, derived from its definition. REST validation, the OpenAPI document,
 * config import and the provider all use these, so what is accepted and what is read back cannot drift apart.
 */
export interface ResourceSchemas {
  create: z.ZodObject;
  update: z.ZodObject;
  /** Everything GET returns. */
  output: z.ZodObject;
  /** Fields the server owns: refused on input with "is read-only". */
  readOnly: string[];
}

const cache = new WeakMap<ResourceDefinition, ResourceSchemas>();

export const hasTenantField = (def: ResourceDefinition) => def.scope === 'tenant' || def.scope === 'tenant-optional';
export const isNested = (def: ResourceDefinition) => def.path.includes('{tenant_id}');

function secretInput(def: ResourceDefinition, optional: boolean): Record<string, z.ZodType> {
  const s = def.secret;
  if (!s || s.mode !== 'encrypted') return {};
  const value = z
    .string()
    .min(s.hashed ? 8 : 1)
    .max(4096);
  return { [s.field]: optional || s.generatePrefix || s.hashed ? value.optional() : value };
}

export function schemasFor(def: ResourceDefinition): ResourceSchemas {
  const hit = cache.get(def);
  if (hit) return hit;
  const idShape: Record<string, z.ZodType> = {};
  if (def.id.source === 'caller') idShape.id = slug();
  if (def.id.source === 'either') idShape.id = resourceId(def.id.prefix).optional();
  const tenantShape: Record<string, z.ZodType> = {};
  if (def.scope === 'tenant') tenantShape.tenant_id = isNested(def) ? slug().optional() : slug();
  if (def.scope === 'tenant-optional') tenantShape.tenant_id = slug().nullable().optional();

  const create = def.fields.extend({ ...idShape, ...tenantShape, ...secretInput(def, false) }).strict();
  const update = def.fields
    .extend({
      id: z.string().optional(),
      ...(hasTenantField(def) ? { tenant_id: z.string().nullable().optional() } : {}),
      ...secretInput(def, true),
    })
    .strict();

  const outSecret: Record<string, z.ZodType> = {};
  if (def.secret?.mode === 'encrypted') {
    if (def.secret.setField) outSecret[def.secret.setField] = z.boolean();
    if (def.secret.last4Field) outSecret[def.secret.last4Field] = z.string().nullable();
  }
  const output = def.fields
    .extend({
      id: z.string(),
      ...(hasTenantField(def) ? { tenant_id: def.scope === 'tenant' ? z.string() : z.string().nullable() } : {}),
      ...def.computed.shape,
      ...outSecret,
      created_at: z.string(),
      updated_at: z.string(),
    })
    .strict();
  const readOnly = [...Object.keys(def.computed.shape), ...Object.keys(outSecret), 'created_at', 'updated_at'];
  const result = { create, update, output, readOnly };
  cache.set(def, result);
  return result;
}

/** The body of `POST …/{id}/rollback`: the kept version whose configuration becomes the newest. */
export const rollbackBody = z.strictObject({ version: z.number().int().min(1) });

/** The body of an action that takes a new secret (`takesSecret`: a credential's rotate). */
export const secretActionBody = (field: string) => z.strictObject({ [field]: z.string().min(1).max(4096) });
