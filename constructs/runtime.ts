import {
  TerraformDataSource,
  TerraformResource,
  type Construct,
  type IResolvable,
  type TerraformMetaArguments,
} from './cdktf';

/**
 * What the generated constructs (constructs/generated/) share: the block config, and the small conversions their
 * `synthesizeAttributes()` (JSON) and `synthesizeHclAttributes()` (`cdktf synth --hcl`) are written with.
 */

/** A value cdktf resolves at synth (a reference, a function call): passed on as is, never looked into. */
export const isResolvable = (value: unknown): value is IResolvable =>
  typeof value === 'object' && value !== null && typeof (value as { resolve?: unknown }).resolve === 'function';

/** The object without its unset (undefined) entries: Terraform then plans the provider's default. */
export function defined(attributes: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== undefined));
}

/** A list of structs converted item by item; a token, null or undefined passes as is. */
export function listOf<T>(value: T[] | IResolvable | null | undefined, convert: (item: T) => unknown): unknown {
  return Array.isArray(value) ? value.map(convert) : value;
}

/** How cdktf's HCL renderer writes an attribute: `simple` values, `list`/`set` in brackets, `map` in braces. */
export type HclType = 'simple' | 'list' | 'set' | 'map';

/**
 * A literal string as the inside of an HCL quoted string. cdktf's renderer only escapes double quotes, so a backslash,
 * a newline or `%{` (an HCL template directive) would change the value; escaped here, its quotes are left alone.
 * A string holding `${` is a cdktf token (a reference): it is an expression, and stays as it is.
 */
function escapeHclString(value: string): string {
  if (value.includes('${')) return value;
  return value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')
    .replace(/%\{/g, '%%{');
}

const escapeStrings = (value: unknown, storageClassType: string): unknown => {
  if (typeof value === 'string') return storageClassType.startsWith('string') ? escapeHclString(value) : value;
  if (Array.isArray(value) && storageClassType === 'stringList') return value.map((v) => escapeStrings(v, 'string'));
  if (value && typeof value === 'object' && storageClassType === 'stringMap' && !isResolvable(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeStrings(v, 'string')]));
  return value;
};

/**
 * One attribute for `synthesizeHclAttributes()`: its value with the type and storage class cdktf's renderer reads
 * (`isBlock` is always false: the provider's nested objects are attributes, written `name = { … }`, not blocks).
 * Unset stays unset; null is written as `null`.
 */
export function hcl(value: unknown, type: HclType, storageClassType: string): unknown {
  if (value === undefined) return undefined;
  if (value === null) return { value: 'null', isBlock: false, type: 'simple', storageClassType: 'null' };
  return { value: escapeStrings(value, storageClassType), isBlock: false, type, storageClassType };
}

/** A resource or data source whose state can be referenced. */
type Stateful = TerraformResource | TerraformDataSource;

/**
 * A nested object of a resource's state (`route.rateLimit`), as cdktf bindings' output references: the generated
 * subclass reads its attributes one by one (`route.rateLimit.limit`), and the whole is a reference too.
 */
export class StateReference implements IResolvable {
  readonly creationStack: string[] = [];

  constructor(
    protected readonly resource: Stateful,
    protected readonly path: string,
  ) {}

  /** The path of one of its attributes: `rate_limit.limit`, `providers[0].model`. */
  protected at(name: string): string {
    return `${this.path}.${name}`;
  }

  resolve(context: Parameters<IResolvable['resolve']>[0]): unknown {
    return this.resource.interpolationForAttribute(this.path).resolve(context);
  }

  toString(): string {
    return this.resource.getStringAttribute(this.path);
  }
}

/** A list of nested objects in a resource's state (`route.providers`): `get(0)` reads one item. */
export class StateListReference<T> extends StateReference {
  constructor(
    resource: Stateful,
    path: string,
    private readonly item: (resource: Stateful, path: string) => T,
  ) {
    super(resource, path);
  }

  get(index: number): T {
    return this.item(this.resource, `${this.path}[${index}]`);
  }
}

/** The config a resource or data-source block is built with: its type and the meta-arguments from the props. */
const blockConfig = (type: string, props: TerraformMetaArguments) => ({
  terraformResourceType: type,
  terraformGeneratorMetadata: { providerName: 'portico' },
  provider: props.provider,
  dependsOn: props.dependsOn,
  count: props.count,
  lifecycle: props.lifecycle,
  forEach: props.forEach,
  provisioners: props.provisioners,
  connection: props.connection,
});

/** What every generated resource construct extends: a `portico_*` resource block with the meta-arguments. */
export abstract class PorticoResource extends TerraformResource {
  protected constructor(scope: Construct, id: string, type: string, props: TerraformMetaArguments) {
    super(scope, id, blockConfig(type, props));
  }
}

/** What every generated data source construct (`DataPorticoRoute`…) extends: a `portico_*` data block. */
export abstract class PorticoDataSource extends TerraformDataSource {
  protected constructor(scope: Construct, id: string, type: string, props: TerraformMetaArguments) {
    super(scope, id, blockConfig(type, props));
  }
}

/** The arguments of a look-up by id (a platform kind's: `portico_tenant`, `portico_rate_limit_tier`). */
export interface LookupConfig extends TerraformMetaArguments {
  /** The id to look up. */
  readonly id: string;
}

/**
 * A data source that looks one resource up by id: its one argument, as cdktf's bindings shape arguments (a getter
 * reading state, a setter, `idInput`); the generated classes add the attributes they read back.
 */
export abstract class PorticoLookup extends PorticoDataSource {
  private _id?: string;

  protected constructor(scope: Construct, id: string, type: string, config: LookupConfig) {
    super(scope, id, type, config);
    this._id = config.id;
  }

  /** The id to look up. */
  get id(): string {
    return this.getStringAttribute('id');
  }

  set id(value: string) {
    this._id = value;
  }

  /** The value this configuration gives it (undefined: left out). */
  get idInput(): string | undefined {
    return this._id;
  }

  protected override synthesizeAttributes(): { [name: string]: unknown } {
    return defined({ id: this._id });
  }

  protected override synthesizeHclAttributes(): { [name: string]: unknown } {
    return defined({ id: hcl(this._id, 'simple', 'string') });
  }
}

/** The arguments of a look-up of a kind tenants own: the id, and the tenant when ids repeat across tenants. */
export interface OwnedLookupConfig extends LookupConfig {
  /** The owning tenant: names which one when ids repeat. */
  readonly tenantId?: string | null;
}

/** A look-up of a kind tenants own (`portico_route`, `portico_service`, `portico_credential`): by id and tenant. */
export abstract class PorticoOwnedLookup extends PorticoLookup {
  private _tenantId?: string | null;

  protected constructor(scope: Construct, id: string, type: string, config: OwnedLookupConfig) {
    super(scope, id, type, config);
    this._tenantId = config.tenantId;
  }

  /** The owning tenant: names which one when ids repeat. */
  get tenantId(): string {
    return this.getStringAttribute('tenant_id');
  }

  set tenantId(value: string | null) {
    this._tenantId = value;
  }

  resetTenantId() {
    this._tenantId = undefined;
  }

  /** The value this configuration gives it (undefined: left out). */
  get tenantIdInput(): string | null | undefined {
    return this._tenantId;
  }

  protected override synthesizeAttributes(): { [name: string]: unknown } {
    return defined({ ...super.synthesizeAttributes(), tenant_id: this._tenantId });
  }

  protected override synthesizeHclAttributes(): { [name: string]: unknown } {
    return defined({ ...super.synthesizeHclAttributes(), tenant_id: hcl(this._tenantId, 'simple', 'string') });
  }
}
