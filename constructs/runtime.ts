import { TerraformDataSource, TerraformResource, type Construct, type TerraformMetaArguments } from './cdktf';

/**
 * How a construct's camelCase properties become the provider's snake_case attributes. The generator writes one spec per
 * resource: a string is the attribute name (its value passes as is, so map keys stay the user's), an object also
 * converts the nested object(s) inside.
 */
export type AttributeSpec = Record<string, string | { name: string; nested: AttributeSpec }>;

function convertNested(value: unknown, spec: AttributeSpec): unknown {
  if (value === null || value === undefined || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => convertNested(v, spec));
  if (Object.keys(spec).length && !Object.keys(value).some((k) => k in spec)) return value; // a token, not an object
  return toAttributes(value as Record<string, unknown>, spec);
}

/** Properties → attributes, leaving out what was not set (Terraform then uses the provider's default). */
export function toAttributes(props: Record<string, unknown>, spec: AttributeSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [prop, target] of Object.entries(spec)) {
    const value = props[prop];
    if (value === undefined) continue;
    if (typeof target === 'string') out[target] = value;
    else out[target.name] = convertNested(value, target.nested);
  }
  return out;
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
});

/** What every generated resource construct shares: the meta-arguments and the property → attribute conversion. */
export abstract class PorticoResource<C extends TerraformMetaArguments> extends TerraformResource {
  protected constructor(
    scope: Construct,
    id: string,
    type: string,
    private readonly props: C,
    private readonly spec: AttributeSpec,
  ) {
    super(scope, id, blockConfig(type, props));
  }

  protected override synthesizeAttributes(): { [name: string]: unknown } {
    return toAttributes(this.props as unknown as Record<string, unknown>, this.spec);
  }
}

/** What every generated data source construct shares (`DataPorticoRoute`…): the same conversion, read-only. */
export abstract class PorticoDataSource<C extends TerraformMetaArguments> extends TerraformDataSource {
  protected constructor(
    scope: Construct,
    id: string,
    type: string,
    private readonly props: C,
    private readonly spec: AttributeSpec,
  ) {
    super(scope, id, blockConfig(type, props));
  }

  protected override synthesizeAttributes(): { [name: string]: unknown } {
    return toAttributes(this.props as unknown as Record<string, unknown>, this.spec);
  }
}
