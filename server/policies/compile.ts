import { BlockList } from 'node:net';
import { parsePolicyBody } from './parse';
import { parseCidr, type AnyBody, type BodyOf, type PolicyStatus, type PolicyType } from './types';

/** A policy as the data plane and the dry-run read it: the resource's fields, its owner and its status. */
export interface PolicyInput {
  id: string;
  tenant_id: string | null;
  name: string;
  type: PolicyType;
  /** null: the owner's whole scope (global for a global policy, else its tenant). */
  target: 'global' | 'tenant' | 'route' | 'api_key' | null;
  target_id: string | null;
  priority: number;
  body: string;
  status: PolicyStatus;
}

export interface CompiledGuardRule {
  name: string;
  regex: RegExp;
  on: 'prompt' | 'response' | 'both';
  action: 'block' | 'redact';
  replacement: string;
}

/** A policy ready to evaluate: its body parsed once, regular expressions and address lists built once. */
export interface CompiledPolicy {
  id: string;
  tenantId: string | null;
  name: string;
  type: PolicyType;
  status: PolicyStatus;
  priority: number;
  /** The effective target: a null target is resolved to global or tenant by the owner. */
  target: NonNullable<PolicyInput['target']>;
  targetId: string | null;
  body: AnyBody;
  /** ip_filter: the ranges, as node's matcher (null when the list is empty). */
  allow?: BlockList | null;
  deny?: BlockList | null;
  /** cors: the allowed origins; `*` among them allows any. */
  origins?: Set<string>;
  /** guardrail: its rules, compiled. */
  guards?: CompiledGuardRule[];
}

function blockList(ranges: string[]): BlockList | null {
  if (!ranges.length) return null;
  const list = new BlockList();
  for (const r of ranges) {
    const c = parseCidr(r)!;
    list.addSubnet(c.address, c.prefix, c.family);
  }
  return list;
}

/** Compiles one policy; undefined when its stored body no longer validates (it then applies nowhere). */
export function compilePolicy(p: PolicyInput): CompiledPolicy | undefined {
  const parsed = parsePolicyBody(p.type, p.body);
  if (!parsed.ok) return undefined;
  const c: CompiledPolicy = {
    id: p.id,
    tenantId: p.tenant_id,
    name: p.name,
    type: p.type,
    status: p.status,
    priority: p.priority,
    target: p.target ?? (p.tenant_id === null ? 'global' : 'tenant'),
    targetId: p.target_id,
    body: parsed.value,
  };
  if (p.type === 'ip_filter') {
    const b = parsed.value as BodyOf<'ip_filter'>;
    c.allow = blockList(b.allow);
    c.deny = blockList(b.deny);
  } else if (p.type === 'cors') {
    c.origins = new Set((parsed.value as BodyOf<'cors'>).allow_origins);
  } else if (p.type === 'guardrail') {
    c.guards = (parsed.value as BodyOf<'guardrail'>).rules.map((r, i) => ({
      name: r.name ?? `rule ${i}`,
      regex: new RegExp(r.pattern, r.ignore_case ? 'giu' : 'gu'),
      on: r.on,
      action: r.action,
      replacement: r.replacement,
    }));
  }
  return c;
}

/** Higher priority first; ties by id, then global before a tenant's, so the order never depends on load order. */
const byPriority = (a: CompiledPolicy, b: CompiledPolicy) =>
  b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : (a.tenantId ?? '') < (b.tenantId ?? '') ? -1 : 1);

/**
 * The ACTIVE and SHADOW policies of one configuration, by owner, each list in priority order. Built once per
 * snapshot version (the snapshot's memo); per-tenant lists (the tenant's merged with the global ones) are built on
 * first use and kept with it.
 */
export class PolicyIndex {
  readonly size: number;
  private readonly global: CompiledPolicy[];
  private readonly owned = new Map<string, CompiledPolicy[]>();
  private readonly merged = new Map<string, readonly CompiledPolicy[]>();

  constructor(policies: readonly PolicyInput[]) {
    const live = policies
      .filter((p) => p.status === 'ACTIVE' || p.status === 'SHADOW')
      .map(compilePolicy)
      .filter((p): p is CompiledPolicy => p !== undefined)
      .sort(byPriority);
    this.size = live.length;
    this.global = live.filter((p) => p.tenantId === null);
    for (const p of live) {
      if (p.tenantId === null) continue;
      const list = this.owned.get(p.tenantId);
      if (list) list.push(p);
      else this.owned.set(p.tenantId, [p]);
    }
  }

  /** The policies that may apply to a request of `tenantId` (null: no tenant known), in priority order. */
  forTenant(tenantId: string | null): readonly CompiledPolicy[] {
    if (tenantId === null) return this.global;
    let list = this.merged.get(tenantId);
    if (!list) {
      const own = this.owned.get(tenantId);
      list = own ? [...this.global, ...own].sort(byPriority) : this.global;
      this.merged.set(tenantId, list);
    }
    return list;
  }
}
