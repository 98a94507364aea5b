import { hasTenantField, isNested } from '../server/resources/schemas';
import type { BulkReader } from './bulk-read';
import { ApiFailure, type AdminClient } from './client';
import { hasUnknown, UNKNOWN, type CtyValue } from './cty-codec';
import { canonicalJson } from '../server/lib/canonical-json';
import { jsonTextOf, parseJsonText, sameJsonText } from './json-text';
import { plain } from './problems';
import { same } from './same-json';
import { restName, type Attribute, type ResourceModel } from './schema';

type Obj = Record<string, CtyValue>;

export { same };

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

const writeOnlyAttr = (model: ResourceModel) => model.attributes.find((a) => a.writeOnly);
const versionAttr = (model: ResourceModel) => model.attributes.find((a) => a.role === 'secret-version');

/** An update sends the write-only secret again only when its version changes. */
function rotates(model: ResourceModel, prior: Obj, planned: Obj): boolean {
  const v = versionAttr(model);
  return v !== undefined && !same(planned[v.name], prior[v.name]);
}

/** The write-only secret a create or update sends (null: none), from the configuration it is only in. */
export function secretToSend(model: ResourceModel, prior: Obj | null, planned: Obj, config: Obj): string | null {
  const wo = writeOnlyAttr(model);
  const value = wo ? config[wo.name] : null;
  if (typeof value !== 'string') return null;
  return prior === null || rotates(model, prior, planned) ? value : null;
}

/** The server-made secret (`secret`) as planned: made on a create without `secret_wo`, gone once one is sent. */
function plannedServerSecret(model: ResourceModel, a: Attribute, prior: Obj | null, desired: Obj, config: Obj) {
  const wo = writeOnlyAttr(model);
  const given = wo !== undefined && config[wo.name] !== null && config[wo.name] !== undefined;
  if (prior === null) return given ? null : UNKNOWN;
  return given && rotates(model, prior, desired) ? null : ((prior[a.name] as CtyValue) ?? null);
}

const freshValues = new WeakMap<ResourceModel, Record<string, CtyValue>>();
/** The computed values a new resource of the model starts with (parsed once: every plan of the kind asks). */
function freshComputed(model: ResourceModel): Record<string, CtyValue> {
  let fresh = freshValues.get(model);
  if (!fresh) freshValues.set(model, (fresh = model.def.computed.parse({}) as Record<string, CtyValue>));
  return fresh;
}

/**
 * Computed attributes an action moved away from what a new resource has (an API key's `status` REVOKED after
 * `revoke`, outside Terraform): no update undoes that, so the plan replaces the resource, showing the value it gets back.
 */
export function revokedAttributes(model: ResourceModel, prior: Obj): { name: string; fresh: CtyValue }[] {
  const fresh = freshComputed(model);
  const found = new Map<string, CtyValue>();
  for (const action of Object.values(model.def.actions ?? {}))
    for (const [field, value] of Object.entries(action.set)) {
      const a = model.attributes.find((x) => x.role === 'computed' && restName(x) === field);
      if (a && value !== 'now' && value !== fresh[field] && prior[a.name] === value) found.set(a.name, fresh[field]);
    }
  return [...found].map(([name, value]) => ({ name, fresh: value }));
}

/** PlanResourceChange: the config with defaults, computed values kept from state unless an update will change them. */
export function planChange(model: ResourceModel, prior: Obj | null, config: Obj | null): Plan {
  if (config === null) return { planned: null, requiresReplace: [] };
  const desired: Obj = withDefaults(
    model.attributes.filter((a) => a.role === 'field'),
    config,
  );
  for (const a of model.attributes) {
    if (a.role === 'tenant' || a.role === 'secret-version') desired[a.name] = config[a.name] ?? null;
    if (a.role === 'option') desired[a.name] = config[a.name] ?? (a.default as CtyValue) ?? null;
    if (a.role === 'id') desired.id = config.id ?? (prior?.id as CtyValue) ?? UNKNOWN;
    if (a.role === 'secret') desired[a.name] = a.writeOnly ? null : ((prior?.[a.name] as CtyValue) ?? UNKNOWN);
    if (a.role === 'computed' || a.role === 'timestamp')
      desired[a.name] = prior ? (prior[a.name] as CtyValue) : UNKNOWN;
  }
  for (const a of model.attributes)
    if (a.role === 'server-secret') desired[a.name] = plannedServerSecret(model, a, prior, desired, config);
  if (!prior) return { planned: desired, requiresReplace: [] };
  // JSON text saying what the state's text says is no change: the prior text stays (Terraform accepts the prior value)
  for (const a of model.attributes)
    if (a.json && sameJsonText(desired[a.name], prior[a.name])) desired[a.name] = prior[a.name] as CtyValue;
  const revoked = revokedAttributes(model, prior);
  const inputs = model.attributes.filter((a) => ['field', 'id', 'tenant', 'secret-version', 'option'].includes(a.role));
  const changed = inputs.filter((a) => hasUnknown(desired[a.name]) || !same(desired[a.name], prior[a.name]));
  const unchanged = {
    ...prior,
    ...Object.fromEntries(model.attributes.filter((a) => a.writeOnly).map((a) => [a.name, null])),
  };
  if (!changed.length && !revoked.length) return { planned: unchanged, requiresReplace: [] };
  // an option of the provider alone (force_destroy) changes the state, not the resource
  if (!revoked.length && changed.every((a) => a.role === 'option'))
    return {
      planned: { ...unchanged, ...Object.fromEntries(changed.map((a) => [a.name, desired[a.name]])) },
      requiresReplace: [],
    };
  // what the server changes on every update is planned unknown: `updated_at`, and what the definition declares
  for (const name of ['updated_at', ...(model.def.changesOnUpdate ?? [])]) if (name in desired) desired[name] = UNKNOWN;
  for (const r of revoked) desired[r.name] = r.fresh;
  const replace = [...changed.filter((a) => a.requiresReplace).map((a) => a.name), ...revoked.map((r) => r.name)];
  return { planned: desired, requiresReplace: replace };
}

/**
 * UpgradeResourceState: a raw JSON state from before a field was renamed for Terraform keeps its value under the new
 * name (`provider` → `provider_name`), so the upgrade is not planned as a replacement.
 */
export function upgradeRawState(model: ResourceModel, raw: Record<string, unknown>): Record<string, unknown> {
  const out = { ...raw };
  for (const a of model.attributes)
    if (a.apiName && a.role !== 'secret-version' && !(a.name in out) && a.apiName in out) {
      out[a.name] = out[a.apiName];
      delete out[a.apiName];
    }
  // a free-form JSON field was a map before it was JSON text
  for (const a of model.attributes)
    if (a.json && out[a.name] !== null && typeof out[a.name] === 'object') out[a.name] = canonicalJson(out[a.name]);
  return out;
}

// ---- talking to the API ------------------------------------------------------------------------------------------

/** The collection a resource is created and listed in: its kind's path, with the tenant for kinds nested under one. */
export function collection(model: ResourceModel, state: Record<string, unknown>): string {
  return '/v1/admin' + model.def.path.replace('{tenant_id}', encodeURIComponent(String(state.tenant_id)));
}
/** One resource's URL. Ids are unique per tenant, so a tenant's resource is named with its owner (`?tenant_id=`). */
export function itemPath(model: ResourceModel, state: Obj): string {
  const path = `${collection(model, state)}/${encodeURIComponent(String(state.id))}`;
  const owned = !isNested(model.def) && hasTenantField(model.def) && typeof state.tenant_id === 'string';
  return owned ? `${path}?tenant_id=${encodeURIComponent(state.tenant_id as string)}` : path;
}

/** The request body for a create or update: the desired fields, the ids, and the write-only secret to send, if any. */
function bodyOf(model: ResourceModel, planned: Obj, secret: string | null): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const a of model.attributes) {
    if (a.role === 'field')
      body[restName(a)] = a.json ? (parseJsonText(planned[a.name])?.value ?? null) : plain(planned[a.name]);
    if (a.role === 'tenant' && !isNested(model.def)) body.tenant_id = planned.tenant_id ?? null;
    if (a.role === 'id' && planned.id !== UNKNOWN && planned.id !== null) body.id = planned.id;
    if (a.role === 'secret-version' && a.apiName) body[a.apiName] = plain(planned[a.name]) ?? null;
  }
  if (secret !== null) body[model.def.secret!.field] = secret;
  return body;
}

/**
 * An API object as state. Values the API never returns come from `prior`: a key shown once, a server-made webhook
 * secret, write-only versions, the provider's own options.
 */
export function stateOf(model: ResourceModel, api: Record<string, unknown>, prior: Obj | null): Obj {
  const state: Obj = {};
  for (const a of model.attributes) {
    if (a.writeOnly) state[a.name] = null;
    else if (a.role === 'secret-version')
      state[a.name] = ((a.apiName ? api[a.apiName] : prior?.[a.name]) as CtyValue) ?? null;
    else if (a.role === 'secret') state[a.name] = ((api[a.name] ?? prior?.[a.name]) as CtyValue) ?? null;
    else if (a.role === 'server-secret') state[a.name] = (prior?.[a.name] as CtyValue) ?? null;
    else if (a.role === 'option') state[a.name] = (prior?.[a.name] as CtyValue) ?? (a.default as CtyValue) ?? null;
    else if (a.json) state[a.name] = jsonTextOf(api[restName(a)], prior?.[a.name]);
    else state[a.name] = (api[restName(a)] as CtyValue) ?? null;
  }
  return state;
}

export async function createResource(
  client: AdminClient,
  model: ResourceModel,
  planned: Obj,
  config: Obj,
): Promise<Obj> {
  const secret = secretToSend(model, null, planned, config);
  const res = await client.request('POST', collection(model, planned), bodyOf(model, planned, secret));
  // the planned JSON text stands in for the prior one: the state keeps the configuration's text
  const state = { ...stateOf(model, res.body, jsonTexts(model, planned)), ...terraformOnly(model, planned) };
  // the secret the server made when none was given is shown once: kept, or nobody could verify deliveries
  for (const a of model.attributes)
    if (a.role === 'server-secret')
      state[a.name] = secret === null ? ((res.body[restName(a)] as CtyValue) ?? null) : null;
  return state;
}

export async function updateResource(
  client: AdminClient,
  model: ResourceModel,
  prior: Obj,
  planned: Obj,
  config: Obj,
): Promise<Obj> {
  const secret = secretToSend(model, prior, planned, config);
  const sent = (a: Attribute) => ['field', 'id', 'tenant', 'secret-version'].includes(a.role);
  // only an option of the provider changed (force_destroy): nothing to tell the API
  if (secret === null && model.attributes.filter(sent).every((a) => same(planned[a.name], prior[a.name])))
    return { ...prior, ...terraformOnly(model, planned) };
  const res = await client.request('PUT', itemPath(model, prior), bodyOf(model, planned, secret));
  const texts = { ...prior, ...jsonTexts(model, planned) };
  const state = { ...stateOf(model, res.body, texts), ...terraformOnly(model, planned) };
  for (const a of model.attributes) if (a.role === 'server-secret' && secret !== null) state[a.name] = null;
  return state;
}

/** The planned JSON texts, which the state keeps when the API's objects say the same. */
const jsonTexts = (model: ResourceModel, planned: Obj): Obj =>
  Object.fromEntries(model.attributes.filter((a) => a.json).map((a) => [a.name, planned[a.name] ?? null]));

/** What the API does not know about: the planned write-only version and the provider's options. */
function terraformOnly(model: ResourceModel, planned: Obj): Obj {
  const own = model.attributes.filter((a) => a.role === 'secret-version' || a.role === 'option');
  return Object.fromEntries(own.map((a) => [a.name, planned[a.name] ?? null]));
}

/** DELETE; with `force_destroy` a tenant goes with everything it owns (`?cascade=true`). */
export async function deleteResource(client: AdminClient, model: ResourceModel, prior: Obj): Promise<void> {
  const path = itemPath(model, prior);
  const cascade = prior.force_destroy === true ? `${path.includes('?') ? '&' : '?'}cascade=true` : '';
  await client.request('DELETE', path + cascade);
}

/** ReadResource: the API's current object, or null when it is gone (Terraform then plans to create it again). */
export async function readResource(reader: BulkReader, model: ResourceModel, prior: Obj): Promise<Obj | null> {
  const api = await reader.read(model, prior);
  return api === null ? null : stateOf(model, api, prior);
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
