import { canonicalJson } from '../lib/canonical-json';
import { compilePolicy, type CompiledPolicy, type PolicyInput } from './compile';
import { globMatch } from '../lib/glob';
import { parseRanges, rangesOverlap } from './ip-ranges';
import type { BodyOf } from './types';

/** Two policies that cannot both be ACTIVE, and why. */
export interface Conflict {
  with: { id: string; tenant_id: string | null; name: string };
  reason: string;
}

const sameTarget = (a: CompiledPolicy, b: CompiledPolicy) =>
  a.type === b.type && a.tenantId === b.tenantId && a.target === b.target && a.targetId === b.targetId;

/** Whether two address ranges (text) overlap. */
const overlap = (x: string, y: string) => rangesOverlap(parseRanges([x])[0]!, parseRanges([y])[0]!);

/** What contradicts between two policies of one type and target; undefined when they can both apply. */
function contradiction(a: CompiledPolicy, b: CompiledPolicy): string | undefined {
  switch (a.type) {
    case 'rate_limit': {
      const [x, y] = [a.body, b.body] as BodyOf<'rate_limit'>[];
      if (x!.per === y!.per && x!.window_secs === y!.window_secs && x!.limit !== y!.limit)
        return `both limit requests per ${x!.per} per ${x!.window_secs} s, to ${x!.limit} and to ${y!.limit}`;
      return undefined;
    }
    case 'quota': {
      const [x, y] = [a.body, b.body] as BodyOf<'quota'>[];
      if (x!.per === y!.per && x!.period === y!.period && x!.limit !== y!.limit)
        return `both set the ${x!.period} quota per ${x!.per}, to ${x!.limit} and to ${y!.limit}`;
      return undefined;
    }
    case 'cors':
      return canonicalJson(a.body) === canonicalJson(b.body) ? undefined : 'they set different CORS rules';
    case 'ip_filter': {
      const [x, y] = [a.body, b.body] as BodyOf<'ip_filter'>[];
      for (const [allow, deny] of [
        [x!.allow, y!.deny],
        [y!.allow, x!.deny],
      ] as const)
        for (const r of allow) for (const d of deny) if (overlap(r, d)) return `one allows ${r}, the other denies ${d}`;
      return undefined;
    }
    case 'guardrail': {
      const [x, y] = [a.body, b.body] as BodyOf<'guardrail'>[];
      for (const r of x!.rules)
        for (const s of y!.rules)
          if (r.pattern === s.pattern && r.action !== s.action)
            return `pattern ${JSON.stringify(r.pattern)} is ${r.action}ed by one and ${s.action}ed by the other`;
      return undefined;
    }
    case 'approval_gate': {
      const [x, y] = [a.body, b.body] as BodyOf<'approval_gate'>[];
      const shared = x!.tools.find((t) => y!.tools.some((u) => globMatch(t, u) || globMatch(u, t)));
      if (
        shared &&
        (canonicalJson(x!.approvers) !== canonicalJson(y!.approvers) || x!.timeout_secs !== y!.timeout_secs)
      )
        return `tool "${shared}" is gated by both, with different approvers or timeouts`;
      return undefined;
    }
  }
}

/**
 * The ACTIVE policies among `others` that contradict `candidate` once it is ACTIVE too: same type, same owner and
 * target, contradicting settings. Policies that merely overlap (two rate limits of different windows) both apply.
 */
export function conflictsOf(candidate: PolicyInput, others: readonly PolicyInput[]): Conflict[] {
  const a = compilePolicy(candidate);
  if (!a) return [];
  const found: Conflict[] = [];
  for (const o of others) {
    if (o.status !== 'ACTIVE' || (o.id === candidate.id && o.tenant_id === candidate.tenant_id)) continue;
    const b = compilePolicy(o);
    if (!b || !sameTarget(a, b)) continue;
    const reason = contradiction(a, b);
    if (reason) found.push({ with: { id: o.id, tenant_id: o.tenant_id, name: o.name }, reason });
  }
  return found;
}
