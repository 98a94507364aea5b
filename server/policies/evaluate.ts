import type { CompiledPolicy } from './compile';
import { globMatch } from '../lib/glob';
import { clientBytes, inRanges } from './ip-ranges';
import type { BodyOf } from './types';
import type { LinearRegex } from '../lib/linear-regex';

/** What a policy is asked about: one request, as far as the gateway knows it when policies run. */
export interface PolicyRequest {
  method: string;
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | string[] | undefined>;
  clientIp: string;
  /** The client address as bytes, once an IP filter has parsed it. */
  clientBytes?: Uint8Array;
  tenantId: string | null;
  keyId: string | null;
  /** The matched route and its owner. */
  routeId: string | null;
  routeOwner: string | null;
  model: string | null;
  /** The text of an LLM call's messages (guardrails read and may redact them). */
  prompt: string[];
  /** An upstream answer's text (guardrails `on: response`; the dry-run and non-streamed LLM answers). */
  response?: string;
}

export type Verdict = 'allow' | 'deny' | 'redact' | 'limit' | 'require_approval' | 'skip';

/** What one policy decided about one request, and why. */
export interface Decision {
  policy_id: string;
  tenant_id: string | null;
  name: string;
  type: CompiledPolicy['type'];
  verdict: Verdict;
  reason: string;
}

/** Who and where a request is: what a policy's target is matched against. */
export type RequestIdentity = Pick<PolicyRequest, 'tenantId' | 'keyId' | 'routeId' | 'routeOwner'>;

/** Whether a policy's owner and target cover the request. */
export function targets(p: CompiledPolicy, r: RequestIdentity): boolean {
  if (p.tenantId !== null && p.tenantId !== r.tenantId) return false;
  switch (p.target) {
    case 'global':
    case 'tenant':
      return true;
    case 'route':
      return r.routeId === p.targetId && (r.routeOwner === p.tenantId || r.routeOwner === null);
    case 'api_key':
      return r.keyId !== null && r.keyId === p.targetId;
  }
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

function ipFilter(p: CompiledPolicy, r: PolicyRequest): [Verdict, string] {
  const ip = r.clientIp;
  const bytes = (r.clientBytes ??= clientBytes(ip) ?? new Uint8Array(0)); // parsed once per request
  if (inRanges(bytes, p.deny!)) return ['deny', `${ip} is in a denied range`];
  if (p.allow!.length && !inRanges(bytes, p.allow!)) return ['deny', `${ip} is not in an allowed range`];
  return ['allow', p.allow!.length ? `${ip} is in an allowed range` : `${ip} is in no denied range`];
}

function cors(p: CompiledPolicy, r: PolicyRequest): [Verdict, string] {
  const origin = first(r.headers.origin);
  if (!origin) return ['skip', 'no Origin header: not a cross-origin request'];
  if (p.origins!.has('*') || p.origins!.has(origin)) return ['allow', `origin ${origin} is allowed`];
  return ['deny', `origin ${origin} is not allowed`];
}

/** The guardrail rules that match the prompt (or answer): the first blocking one decides, else any redaction. */
function guardrail(p: CompiledPolicy, r: PolicyRequest): [Verdict, string] {
  let redacting: string | undefined;
  for (const g of p.guards!) {
    const onPrompt = g.on !== 'response' && r.prompt.some((t) => matches(g.regex, t));
    if (!onPrompt && !(g.on !== 'prompt' && r.response !== undefined && matches(g.regex, r.response))) continue;
    if (g.action === 'block') return ['deny', `guardrail "${g.name}" matched: blocked`];
    redacting ??= `guardrail "${g.name}" matched: redacted`;
  }
  return redacting ? ['redact', redacting] : ['allow', 'no guardrail pattern matched'];
}

export function matches(regex: LinearRegex, text: string): boolean {
  return regex.test(text);
}

function approvalGate(p: CompiledPolicy, r: PolicyRequest): [Verdict, string] {
  const b = p.body as BodyOf<'approval_gate'>;
  const tool = first(r.headers['x-mcp-tool']);
  if (!tool) return ['skip', 'not an MCP tool call (enforced by the MCP proxy)'];
  // the MCP proxy names the server; a sample without one is taken to be on a gated server
  const server = first(r.headers['x-mcp-server']);
  if (server !== undefined && b.servers.length && !b.servers.includes(server))
    return ['skip', `MCP server "${server}" is not among the gated servers`];
  const hit = b.tools.find((t) => globMatch(t, tool));
  return hit
    ? ['require_approval', `tool "${tool}" matches "${hit}": needs an approval within ${b.timeout_secs} s`]
    : ['allow', `tool "${tool}" needs no approval`];
}

/** What a rate limit or quota means for one request, without counting it (the data plane counts). */
function limitReason(p: CompiledPolicy): string {
  if (p.type === 'rate_limit') {
    const b = p.body as BodyOf<'rate_limit'>;
    return `counts against ${b.limit} requests per ${b.window_secs} s per ${b.per}`;
  }
  const b = p.body as BodyOf<'quota'>;
  return `counts against ${b.limit} requests per UTC ${b.period} per ${b.per}`;
}

/**
 * What one policy decides about a request, statelessly: rate limits and quotas report what they count (the data
 * plane's limiter decides whether the count is reached).
 */
export function decide(p: CompiledPolicy, r: PolicyRequest): Decision {
  const [verdict, reason]: [Verdict, string] = targets(p, r)
    ? verdictOf(p, r)
    : ['skip', 'the target does not cover this request'];
  return { policy_id: p.id, tenant_id: p.tenantId, name: p.name, type: p.type, verdict, reason };
}

function verdictOf(p: CompiledPolicy, r: PolicyRequest): [Verdict, string] {
  switch (p.type) {
    case 'ip_filter':
      return ipFilter(p, r);
    case 'cors':
      return cors(p, r);
    case 'guardrail':
      return guardrail(p, r);
    case 'approval_gate':
      return approvalGate(p, r);
    case 'rate_limit':
    case 'quota':
      return ['limit', limitReason(p)];
  }
}

/** The texts with every redacting guardrail rule applied (rules on `prompt` or `both`). */
export function redact(p: CompiledPolicy, texts: string[], side: 'prompt' | 'response'): string[] {
  let out = texts;
  for (const g of p.guards ?? []) {
    if (g.action !== 'redact' || g.on === (side === 'prompt' ? 'response' : 'prompt')) continue;
    out = out.map((t) => g.regex.replaceAll(t, g.replacement));
  }
  return out;
}
