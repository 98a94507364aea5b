import { validationError, type ErrorDetail } from '../errors';
import { issuesToDetails } from '../http/zod-errors';
import type { ResourceDefinition } from '../resources/define';
import { schemasFor } from '../resources/schemas';
import type { CallContext } from './caller';

/** A create setting a `futureOnCreate` field to a moment already past. */
const pastDates = (def: ResourceDefinition, data: Record<string, unknown>): ErrorDetail[] =>
  (def.futureOnCreate ?? [])
    .filter((f) => typeof data[f] === 'string' && Date.parse(data[f]) <= Date.now())
    .map((f) => ({ path: f, message: 'must be in the future' }));

/** Parses a write body: read-only fields, then the zod schema, then the definition's own checks. */
export function parseBody(def: ResourceDefinition, body: unknown, mode: 'create' | 'update'): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw validationError([{ path: '', message: 'the body must be a JSON object' }]);
  }
  const schemas = schemasFor(def);
  const details: ErrorDetail[] = Object.keys(body)
    .filter((k) => schemas.readOnly.includes(k))
    .map((k) => ({ path: k, message: 'is read-only' }));
  const clean = Object.fromEntries(Object.entries(body).filter(([k]) => !schemas.readOnly.includes(k)));
  const parsed = (mode === 'create' ? schemas.create : schemas.update).safeParse(clean);
  if (!parsed.success) details.push(...issuesToDetails(parsed.error));
  else if (mode === 'create') details.push(...pastDates(def, parsed.data as Record<string, unknown>));
  if (details.length) throw validationError(details);
  return parsed.data as Record<string, unknown>;
}

/** The definition's own fields of a parsed body (or of stored data), nothing else. */
export function fieldsOf(def: ResourceDefinition, parsed: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(def.fields.shape)) fields[key] = parsed[key];
  return fields;
}

/** The definition's cross-field rules on a whole state; 400 with each problem at its field. */
export function checkState(def: ResourceDefinition, state: Record<string, unknown>): void {
  const problems = def.check?.(state as never) ?? [];
  if (problems.length) throw validationError(problems);
}

/** The owner of a new resource: the nested path's tenant, the body's `tenant_id`, or (left out) the caller's. */
export function ownerOfNew(
  ctx: CallContext,
  def: ResourceDefinition,
  parsed: Record<string, unknown>,
  pathTenant?: string,
) {
  if (def.scope === 'tenant') return (pathTenant ?? parsed.tenant_id) as string;
  if (def.scope === 'tenant-optional')
    return parsed.tenant_id === undefined ? ctx.caller.tenantId : (parsed.tenant_id as string | null);
  return null;
}
