import { ApiFailure } from './client';
import { restName, type Attribute, type ResourceModel } from './schema';

/** A diagnostic with the attribute path it is about (`providers.0.provider`); an error unless it says `warning`. */
export interface Problem {
  summary: string;
  detail: string;
  path?: string;
  warning?: boolean;
}

/** A known cty value as JSON (bigints become numbers, unknown never reaches here). */
export function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, plain(e)]));
  return v;
}

/** The attribute a REST field is set through: its own (`provider_name` for `provider`), or `<secret>_wo`. */
export function attributeFor(model: ResourceModel, field: string): Attribute | undefined {
  const secret = model.def.secret;
  if (secret?.mode === 'encrypted' && field === secret.field) return model.attributes.find((a) => a.writeOnly);
  return model.attributes.find((a) => restName(a) === field && a.role !== 'server-secret');
}

/** The Terraform attribute path of a REST field path: `api_key` → `api_key_wo`, `provider` → `provider_name`. */
function attributePath(model: ResourceModel, path: string): string {
  const [field, ...rest] = path.split('.');
  return [attributeFor(model, field)?.name ?? field, ...rest].join('.');
}

/** What a Terraform user does about a refusal the API words for REST callers (`?cascade=true`). */
function terraformWords(model: ResourceModel, err: ApiFailure, action: string): Problem | undefined {
  if (err.code === 'TENANT_HAS_RESOURCES' && action === 'delete')
    return {
      summary: 'Portico: the tenant still owns resources',
      detail:
        `${err.message.split(';')[0]}, made outside this configuration. To delete them with it, set ` +
        `force_destroy = true on this ${model.typeName}, run terraform apply, then destroy again; or delete them first.`,
    };
  return undefined;
}

/** Maps an API failure to diagnostics on the attributes it names. */
export function problemsOf(model: ResourceModel, err: unknown, action: string): Problem[] {
  if (!(err instanceof ApiFailure))
    return [{ summary: `Portico: ${action} failed`, detail: err instanceof Error ? err.message : String(err) }];
  const worded = terraformWords(model, err, action);
  if (worded) return [worded];
  if (!err.details.length) return [{ summary: `Portico: ${action} failed (${err.code})`, detail: err.message }];
  return err.details.map((d) => {
    const path = d.path ? attributePath(model, d.path) : '';
    return {
      summary: `Portico: ${action} failed (${err.code})`,
      detail: `${path ? `${path}: ` : ''}${d.message}`,
      path: path || undefined,
    };
  });
}
