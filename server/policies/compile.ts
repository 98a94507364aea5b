import { parseRanges, type IpRange } from './ip-ranges';
import { parsePolicyBody } from './parse';
import { type AnyBody, type BodyOf, type PolicyStatus, type PolicyType } from './types';
import { linearRegex, type LinearRegex } from '../lib/linear-regex';

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
  regex: LinearRegex;
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
  /** ip_filter: the ranges (an empty allow list allows every address not denied). */
  allow?: IpRange[];
  deny?: IpRange[];
  /** cors: the allowed origins; `*` among them allows any. */
  origins?: Set<string>;
  /** guardrail: its rules, compiled. */
  guards?: CompiledGuardRule[];
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
    c.allow = parseRanges(b.allow);
    c.deny = parseRanges(b.deny);
  } else if (p.type === 'cors') {
    c.origins = new Set((parsed.value as BodyOf<'cors'>).allow_origins);
  } else if (p.type === 'guardrail') {
    c.guards = (parsed.value as BodyOf<'guardrail'>).rules.map((r, i) => ({
      name: r.name ?? `rule ${i}`,
      regex: linearRegex(r.pattern, { ignoreCase: r.ignore_case }),
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

/** The policies that may cover one tenant's requests (its own and the global ones), split by what runs them. */
export interface TenantPolicies {
  /** SHADOW policies of the HTTP and LLM proxies: evaluated and recorded, never acting. */
  shadow: readonly CompiledPolicy[];
  /** SHADOW approval gates: the MCP proxy records them. */
  shadowGates: readonly CompiledPolicy[];
  /** ACTIVE policies the hook applies itself (IP filter, CORS, guardrail), in priority order. */
  enforced: readonly CompiledPolicy[];
  /** ACTIVE rate limits and quotas: rules of the data plane's limiter. */
  limits: readonly CompiledPolicy[];
  /** ACTIVE guardrails with rules on answers. */
  answerGuards: readonly CompiledPolicy[];
  /** SHADOW guardrails with rules on answers: they record what they would do with the answer. */
  shadowAnswerGuards: readonly CompiledPolicy[];
  /** ACTIVE approval gates, for the MCP proxy's tool gate. */
  approvalGates: readonly CompiledPolicy[];
}

const isLimit = (p: CompiledPolicy) => p.type === 'rate_limit' || p.type === 'quota';
const readsAnswers = (p: CompiledPolicy) => p.type === 'guardrail' && p.guards!.some((g) => g.on !== 'prompt');

function split(list: readonly CompiledPolicy[]): TenantPolicies {
  const active = list.filter((p) => p.status === 'ACTIVE');
  return {
    shadow: list.filter((p) => p.status === 'SHADOW' && p.type !== 'approval_gate'),
    shadowGates: list.filter((p) => p.status === 'SHADOW' && p.type === 'approval_gate'),
    // approval gates belong to the MCP proxy: the HTTP and LLM proxies leave them alone
    enforced: active.filter((p) => !isLimit(p) && p.type !== 'approval_gate'),
    limits: active.filter(isLimit),
    answerGuards: active.filter(readsAnswers),
    shadowAnswerGuards: list.filter((p) => p.status === 'SHADOW' && readsAnswers(p)),
    approvalGates: active.filter((p) => p.type === 'approval_gate'),
  };
}

/**
 * The ACTIVE and SHADOW policies of one configuration, by owner, each list in priority order. Built once per
 * snapshot version (the snapshot's memo); per-tenant lists (the tenant's merged with the global ones) are built on
 * first use and kept with it.
 */
export class PolicyIndex {
  readonly size: number;
  private readonly global: CompiledPolicy[];
  private readonly owned = new Map<string, CompiledPolicy[]>();
  private readonly merged = new Map<string, TenantPolicies>();
  private globalOnly: TenantPolicies | undefined;

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
  forTenant(tenantId: string | null): TenantPolicies {
    const own = tenantId === null ? undefined : this.owned.get(tenantId);
    if (!own) return (this.globalOnly ??= split(this.global));
    let policies = this.merged.get(tenantId!);
    if (!policies) this.merged.set(tenantId!, (policies = split([...this.global, ...own].sort(byPriority))));
    return policies;
  }
}
