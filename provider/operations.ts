import type { z } from 'zod';
import { canonicalJson } from '../server/lib/canonical-json';
import { issuesToDetails } from '../server/http/zod-errors';
import { hasTenantField, isNested } from '../server/resources/schemas';
import { ApiFailure, type AdminClient } from './client';
import { hasUnknown, UNKNOWN, type CtyValue } from './cty-codec';
import type { Attribute, ResourceModel } from './schema';

type Obj = Record<string, CtyValue>;

/** A diagnostic with the attribute path it is about (`providers.0.provider`). */
export interface Problem {
  summary: string;
  detail: string;
  path?: string;
}

const same = (a: unknown, b: unknown) => canonicalJson(plain(a)) === canonicalJson(plain(b));

/** A known cty value as JSON (bigints become numbers, unknown never reaches here). */
export function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, plain(e)]));
  return v;
}

/** Config with the server's defaults filled in where it leaves optional attributes out (nested too). */
function withDefaults(attrs: Attribute[], config: Obj): Obj {
  const out: Obj = {};
  for (const a of attrs) {
    let v = config[a.name] ?? null;
    if (v === null && a.default !== undefined) v = a.default as CtyValue;
    if (a.nested && v !== null && v !== UNKNOWN) {
      v =
        a.nested.nesting === 'list'
          ? (v as CtyValue[]).map((e) =>
              e === UNKNOWN || e === null ? e : withDefaults(a.nested!.attributes, e as Obj),
            )
          : withDefaults(a.nested.attributes, v as Obj);
    }
    out[a.name] = v;
  }
  return out;
}

export interface Plan {
  planned: Obj | null;
  requiresReplace: string[];
}

/** PlanResourceChange: the config with defaults, computed values kept from state unless an update will change them. */
export function planChange(model: ResourceModel, prior: Obj | null, config: Obj | null): Plan {
  if (config === null) return { planned: null, requiresReplace: [] };
  const desired: Obj = {};
  const byRole = (role: Attribute['role']) => model.attributes.filter((a) => a.role === role);
  Object.assign(desired, withDefaults(byRole('field'), config));
  for (const a of model.attributes) {
    if (a.role === 'tenant' || a.role === 'secret-version') desired[a.name] = config[a.name] ?? null;
    if (a.role === 'id') desired.id = config.id ?? (prior?.id as CtyValue) ?? UNKNOWN;
    if (a.role === 'secret') desired[a.name] = a.writeOnly ? null : ((prior?.[a.name] as CtyValue) ?? UNKNOWN);
    if (a.role === 'computed' || a.role === 'timestamp')
      desired[a.name] = prior ? (prior[a.name] as CtyValue) : UNKNOWN;
  }
  if (!prior) return { planned: desired, requiresReplace: [] };
  const inputs = model.attributes.filter((a) => ['field', 'id', 'tenant', 'secret-version'].includes(a.role));
  const changed = inputs.filter((a) => hasUnknown(desired[a.name]) || !same(desired[a.name], prior[a.name]));
  if (!changed.length)
    return {
      planned: {
        ...prior,
        ...Object.fromEntries(model.attributes.filter((a) => a.writeOnly).map((a) => [a.name, null])),
      },
      requiresReplace: [],
    };
  // what the server changes on every update is planned unknown: `updated_at`, and what the definition declares
  for (const name of ['updated_at', ...(model.def.changesOnUpdate ?? [])]) if (name in desired) desired[name] = UNKNOWN;
  const replace = changed.filter((a) => a.requiresReplace).map((a) => a.name);
  return { planned: desired, requiresReplace: replace };
}

/** ValidateResourceConfig: each known field against its schema, and the cross-field rules once everything is known. */
export function validateConfig(model: ResourceModel, config: Obj): Problem[] {
  const problems: Problem[] = [];
  const fields = model.def.fields.shape as Record<string, z.ZodType>;
  const body: Record<string, unknown> = {};
  let allKnown = true;
  for (const [name, schema] of Object.entries(fields)) {
    const v = config[name] ?? null;
    if (hasUnknown(v)) {
      allKnown = false;
      continue;
    }
    const parsed = schema.safeParse(v === null ? undefined : stripNulls(plain(v)));
    if (!parsed.success)
      for (const d of issuesToDetails(parsed.error, name))
        problems.push({ summary: `Invalid ${d.path}`, detail: `${d.path} ${d.message}`, path: d.path });
    else body[name] = parsed.data;
  }
  if (allKnown && !problems.length && model.def.check) {
    const tenant = config.tenant_id;
    for (const p of model.def.check({
      ...body,
      tenant_id: tenant === UNKNOWN ? 'unknown' : (tenant as string | null),
    } as never)) {
      problems.push({ summary: `Invalid ${p.path}`, detail: `${p.path}: ${p.message}`, path: p.path });
    }
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

// ---- talking to the API ------------------------------------------------------------------------------------------

function collection(model: ResourceModel, state: Obj): string {
  return '/v1/admin' + model.def.path.replace('{tenant_id}', encodeURIComponent(String(state.tenant_id)));
}
/** One resource's URL. Ids are unique per tenant, so a tenant's resource is named with its owner (`?tenant_id=`). */
function itemPath(model: ResourceModel, state: Obj): string {
  const path = `${collection(model, state)}/${encodeURIComponent(String(state.id))}`;
  const owned = !isNested(model.def) && hasTenantField(model.def) && typeof state.tenant_id === 'string';
  return owned ? `${path}?tenant_id=${encodeURIComponent(state.tenant_id as string)}` : path;
}

/** The request body for a create or update: the desired fields, the ids, and a write-only secret when it is to be sent. */
function bodyOf(model: ResourceModel, planned: Obj, config: Obj, sendSecret: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const a of model.attributes) {
    if (a.role === 'field') body[a.name] = plain(planned[a.name]);
    if (a.role === 'tenant' && !isNested(model.def)) body.tenant_id = planned.tenant_id ?? null;
    if (a.role === 'id' && planned.id !== UNKNOWN && planned.id !== null) body.id = planned.id;
    if (a.role === 'secret' && a.writeOnly && sendSecret && config[a.name] !== null && config[a.name] !== undefined)
      body[model.def.secret!.field] = config[a.name];
    if (a.role === 'secret-version' && a.apiName) body[a.apiName] = plain(planned[a.name]) ?? null;
  }
  return body;
}

/** An API object as state; values the API never returns (a key shown once, write-only versions) come from `prior`. */
export function stateOf(model: ResourceModel, api: Record<string, unknown>, prior: Obj | null): Obj {
  const state: Obj = {};
  for (const a of model.attributes) {
    if (a.writeOnly) state[a.name] = null;
    else if (a.role === 'secret-version')
      state[a.name] = ((a.apiName ? api[a.apiName] : prior?.[a.name]) as CtyValue) ?? null;
    else if (a.role === 'secret') state[a.name] = ((api[a.name] ?? prior?.[a.name]) as CtyValue) ?? null;
    else state[a.name] = (api[a.name] as CtyValue) ?? null;
  }
  return state;
}

/** Maps an API failure to diagnostics on the attributes it names. */
export function problemsOf(model: ResourceModel, err: unknown, action: string): Problem[] {
  if (!(err instanceof ApiFailure))
    return [{ summary: `Portico: ${action} failed`, detail: err instanceof Error ? err.message : String(err) }];
  const secretField = model.def.secret?.mode === 'encrypted' ? model.def.secret.field : undefined;
  if (!err.details.length) return [{ summary: `Portico: ${action} failed (${err.code})`, detail: err.message }];
  return err.details.map((d) => {
    const path = secretField && d.path.split('.')[0] === secretField ? `${secretField}_wo` : d.path;
    return {
      summary: `Portico: ${action} failed (${err.code})`,
      detail: `${path ? `${path}: ` : ''}${d.message}`,
      path: path || undefined,
    };
  });
}

export async function createResource(
  client: AdminClient,
  model: ResourceModel,
  planned: Obj,
  config: Obj,
): Promise<Obj> {
  const res = await client.request('POST', collection(model, planned), bodyOf(model, planned, config, true));
  return { ...stateOf(model, res.body, null), ...versionOnly(model, planned) };
}

export async function updateResource(
  client: AdminClient,
  model: ResourceModel,
  prior: Obj,
  planned: Obj,
  config: Obj,
): Promise<Obj> {
  const versionAttr = model.attributes.find((a) => a.role === 'secret-version');
  const rotate = versionAttr !== undefined && !same(planned[versionAttr.name], prior[versionAttr.name]);
  const res = await client.request('PUT', itemPath(model, prior), bodyOf(model, planned, config, rotate));
  return { ...stateOf(model, res.body, prior), ...versionOnly(model, planned) };
}

/** The planned write-only version, which the API does not know about. */
function versionOnly(model: ResourceModel, planned: Obj): Obj {
  const v = model.attributes.find((a) => a.role === 'secret-version');
  return v ? { [v.name]: planned[v.name] ?? null } : {};
}

export async function deleteResource(client: AdminClient, model: ResourceModel, prior: Obj): Promise<void> {
  await client.request('DELETE', itemPath(model, prior));
}

/** ReadResource: the API's current object, or null when it is gone (Terraform then plans to create it again). */
export async function readResource(client: AdminClient, model: ResourceModel, prior: Obj): Promise<Obj | null> {
  const res = await client.request('GET', itemPath(model, prior));
  if (res.status === 404) return null;
  return stateOf(model, res.body, prior);
}

/**
 * Import IDs (CONTRACT.md section 5): `<tenant_id>/<key_id>` for nested resources, `<id>` for the rest; and, since ids
 * are unique per tenant, `<tenant_id>/<id>` for a tenant's resource whose id other tenants use too.
 */
export function importState(model: ResourceModel, id: string): Obj {
  const state: Obj = Object.fromEntries(model.attributes.map((a) => [a.name, null]));
  if (!isNested(model.def) && hasTenantField(model.def) && id.includes('/')) {
    const [tenant, own, extra] = id.split('/');
    if (!tenant || !own || extra !== undefined)
      throw new ApiFailure(
        400,
        'BAD_IMPORT_ID',
        `Import ID for ${model.typeName} must be "<id>" or "<tenant_id>/<id>", got "${id}"`,
      );
    state.tenant_id = tenant;
    state.id = own;
  } else if (isNested(model.def)) {
    const [tenant, key, extra] = id.split('/');
    if (!tenant || !key || extra !== undefined)
      throw new ApiFailure(
        400,
        'BAD_IMPORT_ID',
        `Import ID for ${model.typeName} must be "<tenant_id>/<id>", got "${id}"`,
      );
    state.tenant_id = tenant;
    state.id = key;
  } else {
    state.id = id;
  }
  return state;
}
