import { EXPORTED } from '../server/control/config-document';
import { modelByType, type Attribute, type ResourceModel } from '../provider/schema';
import { CliError } from './admin-client';

type Doc = Record<string, unknown>;

/** Terraform's meta-arguments and CDKTF's metadata: not resource fields. */
const META = new Set(['//', 'depends_on', 'lifecycle', 'provider', 'provisioner', 'connection']);

/** A synthesized Terraform JSON configuration (what `cdktf synth` writes): it has a `resource` block. */
export const isStack = (value: Doc): boolean =>
  value.resource !== null && typeof value.resource === 'object' && !Array.isArray(value.resource);

/** Why a value cannot be known without running Terraform. */
class Unresolvable extends Error {}

interface Entry {
  address: string;
  model?: ResourceModel;
  config: Doc;
  /** Left out of the document (another provider's resource, a kind the document does not carry): why. */
  leftOut?: string;
}

/**
 * Turns a synthesized CDKTF stack into a config document: each `portico_*` resource becomes an item of its section,
 * `${portico_tenant.x.id}` references are resolved to the named resource's value, and a resource without an `id`
 * gets one derived from its construct id (stable across synths). Anything that needs Terraform to evaluate (another
 * provider's attribute, a function, a variable without a default) is an error naming the resource address.
 */
export function stackToDocument(stack: Doc, file: string): { doc: Doc; notes: string[] } {
  const entries = new Map<string, Entry>();
  const notes: string[] = [];
  const problems: string[] = [];
  for (const [type, byName] of Object.entries((stack.resource ?? {}) as Record<string, Record<string, Doc>>)) {
    for (const [name, config] of Object.entries(byName ?? {})) {
      const address = `${type}.${name}`;
      const entry: Entry = { address, config, model: modelByType(type) };
      entries.set(address, entry);
      if (!type.startsWith('portico_')) entry.leftOut = 'it is not a portico resource';
      else if (!entry.model) problems.push(`${address}: unknown resource type ${type}`);
      else if (!entry.model.def.exportKey)
        entry.leftOut = `${entry.model.def.plural} are not part of a config document (${entry.model.def.notExported})`;
      if (entry.leftOut) notes.push(`${address}: left out: ${entry.leftOut}`);
      for (const meta of ['count', 'for_each'])
        if (meta in config) problems.push(`${address}: "${meta}" needs Terraform to expand; not supported here`);
    }
  }
  const variables = (stack.variable ?? {}) as Record<string, Doc>;
  const locals = (stack.locals ?? {}) as Doc;
  const resolving = new Set<string>();

  const attribute = (entry: Entry, name: string): unknown => {
    if (name === 'id' && entry.config.id === undefined) return derivedId(entry);
    if (!(name in entry.config)) throw new Unresolvable(`${entry.address}.${name} is only known after apply`);
    const key = `${entry.address}.${name}`;
    if (resolving.has(key)) throw new Unresolvable(`${key} refers back to itself`);
    resolving.add(key);
    try {
      return resolve(entry.config[name]);
    } finally {
      resolving.delete(key);
    }
  };
  const expression = (expr: string): unknown => {
    const ref = /^([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)\.([a-z_]+)$/.exec(expr);
    if (ref && !expr.startsWith('var.') && !expr.startsWith('local.') && !expr.startsWith('data.')) {
      const target = entries.get(`${ref[1]}.${ref[2]}`);
      if (!target) throw new Unresolvable(`refers to ${ref[1]}.${ref[2]}, which is not in this stack`);
      if (target.leftOut) throw new Unresolvable(`refers to ${target.address}, which is left out: ${target.leftOut}`);
      return attribute(target, ref[3]!);
    }
    const variable = /^var\.([A-Za-z0-9_-]+)$/.exec(expr);
    if (variable) {
      const declared = variables[variable[1]!];
      if (!declared || !('default' in declared))
        throw new Unresolvable(`variable "${variable[1]}" has no default (set it in the stack, or use Terraform)`);
      return declared.default;
    }
    const local = /^local\.([A-Za-z0-9_-]+)$/.exec(expr);
    if (local && local[1]! in locals) return resolve(locals[local[1]!]);
    if (expr.startsWith('data.')) throw new Unresolvable(`reads the data source ${expr}, which needs Terraform`);
    throw new Unresolvable(`uses the Terraform expression \${${expr}}, which this command cannot evaluate`);
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
    if (typeof value !== 'string' || !value.includes('${')) return value;
    const whole = /^\$\{([^}]+)\}$/.exec(value);
    if (whole) return expression(whole[1]!.trim());
    // "$${" is Terraform's escape for a literal "${"
    return value.replace(/(\$?)\$\{([^}]*)\}/g, (all, escaped: string, expr: string) =>
      escaped ? all.slice(1) : String(expression(expr.trim())),
    );
  };

  const doc: Doc = { version: 1 };
  for (const def of EXPORTED) doc[def.exportKey!] = [];
  for (const entry of entries.values()) {
    if (entry.leftOut || !entry.model) continue;
    const item: Doc = {};
    for (const key of Object.keys(entry.config)) {
      if (META.has(key) || key === 'count' || key === 'for_each') continue;
      const attr: Attribute | undefined = entry.model.attributes.find((a) => a.name === key);
      if (!attr || attr.role === 'computed' || attr.role === 'timestamp') {
        problems.push(`${entry.address}: "${key}" is not an argument of ${entry.model.typeName}`);
        continue;
      }
      const field = attr.role === 'secret' ? key.replace(/_wo$/, '') : (attr.apiName ?? key);
      try {
        item[field] = attribute(entry, key);
      } catch (err) {
        if (!(err instanceof Unresolvable)) throw err;
        problems.push(`${entry.address}.${key}: ${err.message}`);
      }
    }
    item.id = attribute(entry, 'id');
    (doc[entry.model.def.exportKey!] as Doc[]).push(item);
  }
  if (problems.length)
    throw new CliError(`${file}: cannot turn this stack into a config document:\n  ${problems.join('\n  ')}`);
  return { doc, notes };
}

/** A slug from the construct's unique id (`onboarding_budget_A3BAE714` → `onboarding_budget_a3bae714`). */
function derivedId(entry: Entry): string {
  const meta = (entry.config['//'] as { metadata?: { uniqueId?: string } } | undefined)?.metadata;
  const base = (meta?.uniqueId ?? entry.address.split('.')[1]!).toLowerCase().replace(/[^a-z0-9\-_.]+/g, '-');
  const trimmed = base.replace(/^[^a-z0-9]+/, '') || 'resource';
  return trimmed.length <= 63 ? trimmed : `${trimmed.slice(0, 54)}-${trimmed.slice(-8)}`;
}
