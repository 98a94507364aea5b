import type * as grpc from '@grpc/grpc-js';
import { BulkReader } from './bulk-read';
import { AdminClient } from './client';
import { decodeJson, decodeMsgpack, encodeMsgpack, hasUnknown, typeToJson, type CtyValue } from './cty-codec';
import { readDataSource, validateDataSourceConfig } from './data-sources';
import {
  createResource,
  deleteResource,
  importState,
  planChange,
  readResource,
  updateResource,
  upgradeRawState,
} from './operations';
import { problemsOf, type Problem } from './problems';
import {
  DATA_MODELS,
  dataModelByType,
  MODELS,
  modelByType,
  PROVIDER_ATTRIBUTES,
  type Attribute,
  type CtyType,
  type ResourceModel,
} from './schema';
import { validateConfig, validateProviderConfig } from './validation';
import { privateAfterWrite, unsentSecretWarning } from './write-only';

type Obj = Record<string, CtyValue>;
type Call = grpc.ServerUnaryCall<any, any>;
type Done = grpc.sendUnaryData<any>;

const PROVIDER_TYPE: CtyType = {
  kind: 'object',
  attributes: Object.fromEntries(PROVIDER_ATTRIBUTES.map((a) => [a.name, a.type])),
};

/** Schema.Attribute messages; nested attributes use nested_type (so their own attributes may be optional). */
function attributeProto(a: Attribute): object {
  return {
    name: a.name,
    type: a.nested ? Buffer.alloc(0) : Buffer.from(JSON.stringify(typeToJson(a.type))),
    nested_type: a.nested
      ? { attributes: a.nested.attributes.map(attributeProto), nesting: a.nested.nesting === 'list' ? 2 : 1 }
      : undefined,
    description: a.description,
    description_kind: 1, // MARKDOWN: the descriptions quote values in backticks
    required: a.required,
    optional: a.optional,
    computed: a.computed,
    sensitive: a.sensitive,
    write_only: a.writeOnly,
  };
}
const schemaProto = (attrs: Attribute[], description: string) => ({
  version: 0,
  block: { version: 0, attributes: attrs.map(attributeProto), description, description_kind: 1 },
});

/** `providers.0.provider` as an AttributePath. */
function pathProto(path: string) {
  return {
    steps: path
      .split('.')
      .filter(Boolean)
      .map((s) => (/^\d+$/.test(s) ? { element_key_int: Number(s) } : { attribute_name: s })),
  };
}
const diagnostics = (problems: Problem[]) =>
  problems.map((p) => ({
    severity: p.warning ? 2 : 1,
    summary: p.summary,
    detail: p.detail,
    attribute: p.path ? pathProto(p.path) : undefined,
  }));
const failure = (summary: string, err: unknown) => [
  { severity: 1, summary, detail: err instanceof Error ? err.message : String(err) },
];

const decode = (dv: { msgpack?: Buffer; json?: Buffer } | null | undefined, type: CtyType): CtyValue =>
  !dv
    ? null
    : dv.msgpack?.length
      ? decodeMsgpack(dv.msgpack, type)
      : dv.json?.length
        ? decodeJson(dv.json, type)
        : null;
const encode = (v: CtyValue, type: CtyType) => ({ msgpack: Buffer.from(encodeMsgpack(v, type)) });

/** The tfplugin6 Provider service's handlers: schema and CRUD, all derived from the resource registry. */
export function providerService(): grpc.UntypedServiceImplementation {
  let client: AdminClient | undefined;
  let reader: BulkReader | undefined;
  const need = (): AdminClient => {
    if (!client) throw new Error('the provider is not configured');
    return client;
  };
  const reads = (): BulkReader => (reader ??= new BulkReader(need()));
  const model = (call: Call): ResourceModel => {
    const m = modelByType(call.request.type_name);
    if (!m) throw new Error(`unknown resource type ${call.request.type_name}`);
    return m;
  };
  const dataModel = (call: Call): ResourceModel => {
    const m = dataModelByType(call.request.type_name);
    if (!m) throw new Error(`unknown data source ${call.request.type_name}`);
    return m;
  };
  /** Runs a handler; anything it throws becomes an error diagnostic instead of a broken RPC. */
  const rpc = (name: string, fn: (call: Call) => Promise<object> | object) => (call: Call, done: Done) => {
    Promise.resolve()
      .then(() => fn(call))
      .then(
        (res) => done(null, res),
        (err) => done(null, { diagnostics: failure(`Portico provider: ${name} failed`, err) }),
      );
  };

  const implementation: grpc.UntypedServiceImplementation = {
    // get_provider_schema_optional: the handlers need no GetProviderSchema call first, so Terraform serves later
    // starts in the same command from its schema cache instead of asking (and us encoding) the schema each time.
    GetMetadata: rpc('GetMetadata', () => ({
      server_capabilities: { plan_destroy: false, get_provider_schema_optional: true },
      resources: MODELS.map((m) => ({ type_name: m.typeName })),
      data_sources: DATA_MODELS.map((m) => ({ type_name: m.typeName })),
    })),
    GetProviderSchema: rpc('GetProviderSchema', () => ({
      provider: schemaProto(PROVIDER_ATTRIBUTES, 'Portico admin API connection.'),
      resource_schemas: Object.fromEntries(
        MODELS.map((m) => [m.typeName, schemaProto(m.attributes, m.def.description)]),
      ),
      data_source_schemas: Object.fromEntries(
        DATA_MODELS.map((m) => [m.typeName, schemaProto(m.attributes, `Looks up one ${m.def.title} by id.`)]),
      ),
      server_capabilities: { plan_destroy: false, get_provider_schema_optional: true },
    })),
    ValidateProviderConfig: rpc('ValidateProviderConfig', (call) => ({
      diagnostics: diagnostics(validateProviderConfig((decode(call.request.config, PROVIDER_TYPE) ?? {}) as Obj)),
    })),
    ValidateDataResourceConfig: rpc('ValidateDataResourceConfig', (call) => {
      const m = dataModel(call);
      return { diagnostics: diagnostics(validateDataSourceConfig(m, decode(call.request.config, m.type) as Obj)) };
    }),
    ConfigureProvider: rpc('ConfigureProvider', (call) => {
      const cfg = (decode(call.request.config, PROVIDER_TYPE) ?? {}) as Obj;
      const endpoint = (cfg.endpoint as string | null) ?? process.env.PORTICO_ENDPOINT ?? 'http://127.0.0.1:8090';
      const token = (cfg.token as string | null) ?? process.env.PORTICO_TOKEN;
      if (!token)
        return {
          diagnostics: [
            {
              severity: 1,
              summary: 'Missing Portico token',
              detail: 'Set the provider\'s "token" argument or PORTICO_TOKEN.',
              attribute: pathProto('token'),
            },
          ],
        };
      // PORTICO_ENDPOINT is only seen here, so the endpoint is checked again once its default is known
      const bad = validateProviderConfig({ endpoint });
      const from = cfg.endpoint ? '' : ' (from PORTICO_ENDPOINT)';
      if (bad.length) return { diagnostics: diagnostics(bad.map((p) => ({ ...p, detail: p.detail + from }))) };
      client = new AdminClient(endpoint, token);
      reader = undefined;
      return { diagnostics: [] };
    }),
    ValidateResourceConfig: rpc('ValidateResourceConfig', (call) => {
      const m = model(call);
      return { diagnostics: diagnostics(validateConfig(m, decode(call.request.config, m.type) as Obj)) };
    }),
    UpgradeResourceState: rpc('UpgradeResourceState', (call) => {
      const m = model(call);
      const raw = call.request.raw_state?.json;
      const upgraded = raw?.length
        ? decodeJson(JSON.stringify(upgradeRawState(m, JSON.parse(Buffer.from(raw).toString('utf8')))), m.type)
        : null;
      return { upgraded_state: encode(upgraded, m.type), diagnostics: [] };
    }),
    ReadResource: rpc('ReadResource', async (call) => {
      const m = model(call);
      const prior = decode(call.request.current_state, m.type) as Obj | null;
      if (!prior) return { new_state: encode(null, m.type), diagnostics: [] };
      try {
        return {
          new_state: encode(await readResource(reads(), m, prior), m.type),
          private: call.request.private,
          diagnostics: [],
        };
      } catch (err) {
        return { new_state: call.request.current_state, diagnostics: diagnostics(problemsOf(m, err, 'read')) };
      }
    }),
    PlanResourceChange: rpc('PlanResourceChange', async (call) => {
      const m = model(call);
      const prior = decode(call.request.prior_state, m.type) as Obj | null;
      const proposed = decode(call.request.proposed_new_state, m.type) as Obj | null;
      const config = proposed === null ? null : (decode(call.request.config, m.type) as Obj);
      const plan = planChange(m, prior, config);
      return {
        planned_state: encode(plan.planned, m.type),
        requires_replace: plan.requiresReplace.map(pathProto),
        planned_private: call.request.prior_private,
        diagnostics: diagnostics(await unsentSecretWarning(m, prior, config, call.request.prior_private)),
      };
    }),
    ApplyResourceChange: rpc('ApplyResourceChange', async (call) => {
      const m = model(call);
      const prior = decode(call.request.prior_state, m.type) as Obj | null;
      const planned = decode(call.request.planned_state, m.type) as Obj | null;
      const config = (decode(call.request.config, m.type) ?? {}) as Obj;
      // whatever the outcome, a list fetched before this write no longer speaks for this resource
      for (const s of [prior, planned]) if (typeof s?.id === 'string') reads().wrote(m, s);
      try {
        if (planned === null) {
          await deleteResource(need(), m, prior!);
          return { new_state: encode(null, m.type), diagnostics: [] };
        }
        const state =
          prior === null
            ? await createResource(need(), m, planned, config)
            : await updateResource(need(), m, prior, planned, config);
        if (prior === null) reads().wrote(m, state);
        if (hasUnknown(state)) throw new Error('the API left a value unknown');
        return {
          new_state: encode(state, m.type),
          private: await privateAfterWrite(m, prior, planned, config, call.request.planned_private),
          diagnostics: [],
        };
      } catch (err) {
        const action = planned === null ? 'delete' : prior === null ? 'create' : 'update';
        return {
          new_state: call.request.prior_state ?? encode(null, m.type),
          diagnostics: diagnostics(problemsOf(m, err, action)),
        };
      }
    }),
    ImportResourceState: rpc('ImportResourceState', (call) => {
      const m = model(call);
      try {
        return {
          imported_resources: [
            { type_name: m.typeName, state: encode(importState(m, call.request.id), m.type), private: Buffer.alloc(0) },
          ],
          diagnostics: [],
        };
      } catch (err) {
        return { imported_resources: [], diagnostics: diagnostics(problemsOf(m, err, 'import')) };
      }
    }),
    ReadDataSource: rpc('ReadDataSource', async (call) => {
      const m = dataModel(call);
      const config = (decode(call.request.config, m.type) ?? {}) as Obj;
      try {
        return { state: encode(await readDataSource(need(), m, config), m.type), diagnostics: [] };
      } catch (err) {
        return { diagnostics: diagnostics(problemsOf(m, err, 'read')) };
      }
    }),
    StopProvider: rpc('StopProvider', () => ({ Error: '' })),
  };
  return implementation;
}
