import { z } from 'zod';

/**
 * A resource definition: the single declaration from which REST, storage, export/import, the Terraform provider and
 * the CDKTF constructs are derived. This module (and every definition) imports nothing but zod.
 */

/**
 * Where a resource lives:
 * - `platform`: fleet-wide, no tenant (pricing).
 * - `tenant-self`: the tenant itself; its id is the tenant id.
 * - `tenant`: belongs to exactly one tenant (`tenant_id` required).
 * - `tenant-optional`: one tenant's, or every tenant's when `tenant_id` is null (global routes, webhooks).
 */
export type Scope = 'platform' | 'tenant-self' | 'tenant' | 'tenant-optional';

/** Areas of the permission matrix (server/control/permissions.ts). */
export type Area =
  | 'tenants'
  | 'keys'
  | 'tokens'
  | 'routes'
  | 'policies'
  | 'budgets'
  | 'pricing'
  | 'credentials'
  | 'webhooks'
  | 'mcp'
  | 'schemas'
  | 'audit'
  | 'config';

export type IdRule =
  /** The caller names it (a slug); required. */
  | { source: 'caller' }
  /** The server makes an opaque id with this prefix. */
  | { source: 'server'; prefix: string }
  /** The caller may name it; otherwise the server makes one. */
  | { source: 'either'; prefix: string };

export type SecretRule =
  /** The server generates a token shown once in `field`; only its hash is stored and looked up. */
  | { mode: 'generated'; field: string; prefix: string; prefixField?: string }
  /**
   * The caller gives the secret in `field` (or the server generates one with `generatePrefix`); it is stored
   * encrypted and never read back. `setField` reports whether one is set; `last4Field` shows its last 4 characters.
   */
  | {
      mode: 'encrypted';
      field: string;
      generatePrefix?: string;
      setField?: string;
      last4Field?: string;
      showOnCreate?: boolean;
      /**
       * A field (declared in `fields`) that labels the current secret: clients bump it when they send a new one. It
       * lets Terraform's `<field>_wo_version` survive import and show rotation, without the secret ever being read.
       */
      versionField?: string;
      /** The data plane sends it upstream (a provider key): the configuration snapshot keeps it, still sealed. */
      inSnapshot?: boolean;
      /**
       * A password: kept as a salted scrypt hash (verifiable, never recoverable) instead of encrypted; optional on
       * create, at least 8 characters, and left out of the config export (there is nothing to redact).
       */
      hashed?: boolean;
    };

/** A state change on one resource, such as `revoke`: POST …/{id}/{name}. */
export interface ActionDefinition {
  /** Fields set by the action; the string `now` sets the current time. */
  set: Record<string, unknown>;
  audit: string;
  /** Refuse with 409 unless this field currently holds one of these values. */
  when?: { field: string; in: unknown[] };
  /** The body carries a new value for the resource's encrypted secret (`{"api_key": "…"}`): a rotation. */
  takesSecret?: boolean;
}

export interface ResourceDefinition<
  S extends z.ZodObject = z.ZodObject,
  C extends z.ZodObject = z.ZodObject,
  K extends string = string,
  Sc extends Scope = Scope,
> {
  /** Singular snake_case name: `api_key` (Terraform `portico_api_key`, audit `resource.kind`). */
  kind: K;
  /** What people call one: `API key`. */
  title: string;
  /** What people call several: `API keys` (the OpenAPI tag, messages about the kind). */
  plural: string;
  /** Collection path under /v1/admin, with `{tenant_id}` when nested under a tenant. */
  path: string;
  /** Key in the config export document; absent means not exported, and `notExported` says why. */
  exportKey?: string;
  /** Why the kind is left out of the config export (shown as an export warning); required without `exportKey`. */
  notExported?: string;
  scope: Sc;
  /**
   * False: the data plane never reads this kind, so the in-memory configuration snapshot does not hold it (admin
   * tokens: only the admin API authenticates with them, from the database). Default true.
   */
  snapshot?: boolean;
  /**
   * For `tenant-optional`: what a null `tenant_id` means. `shared` (default): global, visible to every tenant's
   * callers. `platform-only`: belongs to the platform, hidden from tenant callers (platform tokens).
   */
  nullTenant?: 'shared' | 'platform-only';
  area: Area;
  id: IdRule;
  /** The writable desired state, without `id` and `tenant_id` (the mechanism owns those). Use strict objects. */
  fields: S;
  /** Read-only state the server keeps, with its value at creation as the default. */
  computed: C;
  /** A value no two resources of this kind may share (pricing: provider and model); a clash is a 409. */
  unique?(fields: z.infer<S>): string;
  /**
   * Top-level fields naming another resource (`{api_key_id: 'api_key'}`): it must exist, in the same tenant or global.
   * The other way round, a resource something still names cannot be deleted (409 saying how many name it).
   */
  references?: Record<string, string>;
  /**
   * A path prefix (`field`, a string or null) that belongs to the resource's owner: its tenant, or the platform when
   * `tenant_id` is null. A value overlapping another owner's at a segment boundary (`/api` and `/api/v2`, not
   * `/apix`; trailing slashes aside) is a 409; one owner's values may overlap freely. Disabled resources keep theirs.
   */
  claims?: { field: string };
  /**
   * Date-time fields a create may not set in the past (a token born expired is a mistake). Checked when the API
   * writes, not in `check`, so a plan made after the date passes still validates.
   */
  futureOnCreate?: (keyof z.infer<S> & string)[];
  /**
   * Fields holding a URL the gateway calls out to (`providers.*.base_url` for one in each list item). On a
   * tenant-owned resource a tenant may have set it, so every call to it obeys the egress rules (server/net/egress.ts).
   */
  targets?: string[];
  /** Fields that cannot change after creation (Terraform plans a replacement). `id`, `tenant_id` always are. */
  immutable?: (keyof z.infer<S> & string)[];
  secret?: SecretRule;
  /** False: no PUT; every change is a replacement. */
  updatable?: boolean;
  /**
   * Computed fields the server changes on every update (a route's `version`), besides `updated_at`: a plan for an
   * update cannot know them in advance (Terraform plans them "known after apply").
   */
  changesOnUpdate?: (keyof z.infer<C> & string)[];
  /**
   * The field holding an admin role that the resource grants (a token's `role`): a caller may only set a role it may
   * grant itself (server/control/permissions.ts), checked before anything else about the request.
   */
  grant?: { field: keyof z.infer<S> & string };
  /**
   * Keep a version per change (the last 10), with `GET …/{id}/versions` and `POST …/{id}/rollback`; the computed
   * field `version` counts them.
   */
  versioned?: boolean;
  /**
   * Audit event types of its changes. `updated` is required unless `updatable` is false, `rolledBack` when
   * `versioned` (`defineResource` refuses a definition without them: no event name is ever made up).
   */
  audit: {
    created: string;
    updated?: string;
    deleted: string;
    rolledBack?: string;
    fieldEvents?: Record<string, string>;
  };
  actions?: Record<string, ActionDefinition>;
  /** Cross-field rules zod cannot say on its own; each problem names its field path. */
  check?(state: z.infer<S> & { tenant_id?: string | null }): { path: string; message: string }[];
  /** Human summary for the OpenAPI document and generated docs. */
  description: string;
}

/**
 * Declares a resource; the identity function, there for types: it keeps the kind, the scope and the field schemas
 * of the definition, so `StateOf` and the typed snapshot can be derived from it. (`check` and `unique` are declared
 * as methods so that a specific definition is still a `ResourceDefinition` of any fields.)
 */
export function defineResource<S extends z.ZodObject, C extends z.ZodObject, K extends string, Sc extends Scope>(
  def: ResourceDefinition<S, C, K, Sc>,
): ResourceDefinition<S, C, K, Sc> {
  const missing = definitionGaps(def);
  if (missing.length) throw new Error(`Resource "${def.kind}" must declare ${missing.join(', ')}`);
  return def;
}

/** Facts a definition must declare because of others it declares. */
function definitionGaps(def: ResourceDefinition): string[] {
  const gaps: string[] = [];
  if (def.updatable !== false && !def.audit.updated) gaps.push('audit.updated (it is updatable)');
  if (def.versioned && !def.audit.rolledBack) gaps.push('audit.rolledBack (it is versioned)');
  if (!def.exportKey && !def.notExported) gaps.push('exportKey, or notExported saying why it is not exported');
  const undescribed = Object.entries(def.fields.shape).filter(([, schema]) => !schema.description);
  if (undescribed.length) gaps.push(`a description (.describe()) of ${undescribed.map(([f]) => f).join(', ')}`);
  return gaps;
}

/** Who owns a resource of scope `Sc`: a tenant id, none (platform and the tenant itself), or either. */
type TenantIdOf<Sc extends Scope> = Sc extends 'tenant' ? string : Sc extends 'tenant-optional' ? string | null : null;

/**
 * One resource's state as the server holds it (a snapshot entry, a stored row's data): its fields with defaults
 * applied, its computed fields, its id and its owner. A field added to a definition shows up here, so the type checker
 * finds every consumer that must handle it.
 */
export type StateOf<D> =
  D extends ResourceDefinition<infer S, infer C, string, infer Sc>
    ? OutputOf<S> & OutputOf<C> & { id: string; tenant_id: TenantIdOf<Sc> }
    : never;

/** What an object schema's fields hold once parsed (an empty shape is `{}`, not zod's `Record<string, never>`). */
type OutputOf<O extends z.ZodObject> = { [F in keyof O['shape']]: z.output<O['shape'][F]> };

const SLUG = '[a-z0-9][a-z0-9\\-_.]{0,62}';
const SLUG_RULE = 'lower-case letters, digits, "-", "_" or ".", 1 to 63 characters, starting with a letter or digit';

/** Caller-given ids: `[a-z0-9][a-z0-9-_.]{0,62}`. */
export const slug = () =>
  z
    .string()
    .regex(new RegExp(`^${SLUG}$`), `must be a slug: ${SLUG_RULE}`)
    .describe(`A slug: ${SLUG_RULE}.`);

/**
 * The id of a resource whose id rule has a prefix: a slug, or an id the server made (`bud_` + letters, digits, `-`
 * or `_`; older ones hold upper-case letters), so an export of server-made ids imports again.
 */
export const resourceId = (prefix: string) => {
  const made = `${prefix.replace(/[^a-z0-9_-]/g, '')}[A-Za-z0-9_-]{1,64}`;
  const message = `must be a slug (${SLUG_RULE}) or an id this gateway made (${prefix}…)`;
  return z
    .string()
    .regex(new RegExp(`^(?:${SLUG}|${made})$`), message)
    .describe(`A slug (${SLUG_RULE}), or an id this gateway made (\`${prefix}…\`).`);
};

/** Free-form string labels with bounded size. */
export const metadata = () =>
  z
    .record(z.string().min(1).max(128), z.string().max(1024))
    .refine((m) => Object.keys(m).length <= 64, 'at most 64 entries')
    .default({});

/** An ISO-8601 date-time with an explicit offset (`Z` or `+02:00`). */
export const isoDateTime = () => z.iso.datetime({ offset: true });

export const name = () => z.string().min(1).max(200);

/** The version label of a write-only secret (`what`: key, secret): Terraform sends a new secret when it changes. */
export const secretVersion = (what: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(1e15)
    .nullable()
    .default(null)
    .describe(`A label of the current ${what}: bump it when sending a new one.`);

/** The value type of {@link jsonObject}: one instance, so the surfaces can tell a free-form JSON field by it. */
const JSON_VALUE = z.json();

/**
 * A free-form JSON object (a JSON Schema, say). REST and export take it as an object; the Terraform provider and the
 * constructs, whose type systems cannot hold arbitrary JSON, take it as JSON text (`jsonencode(…)`).
 */
export const jsonObject = () => z.record(z.string(), JSON_VALUE);

/** Whether a record's value type is {@link jsonObject}'s: any JSON value. */
export const isJsonValue = (schema: unknown): boolean => schema === JSON_VALUE;
