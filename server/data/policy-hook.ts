import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors';
import { PolicyIndex, type CompiledPolicy, type PolicyInput } from '../policies/compile';
import { decide, redact, targets, type PolicyRequest, type RequestIdentity } from '../policies/evaluate';
import { shadowStatsOf, type ShadowStats } from '../policies/shadow-stats';
import type { BodyOf } from '../policies/types';
import type { RouteState, TenantState } from '../resources';
import type { SnapshotApiKey } from '../store/snapshot-keys';
import type { ConfigSnapshot } from '../store/snapshot';
import type { DataPlane } from './data-plane';
import { RateLimiter, type LimitContext, type LimitRule, type LimitWindow } from './limiter';

/**
 * The data plane's policy hook: one call in each proxy, after routing and before `dp.admit`. ACTIVE policies are
 * enforced in priority order (IP filters, CORS and prompt guardrails here; rate limits and quotas as one more source
 * of the shared limiter, so with route limits and key tiers the strictest applies); SHADOW policies are evaluated on
 * the same request without acting, and what they would have done goes to the shadow statistics.
 * `approval_gate` policies belong to the MCP proxy (server/mcp/approval-gate.ts): never evaluated here.
 */

/** The policies of the current configuration, compiled once per snapshot version. */
export const policyIndex = (snapshot: ConfigSnapshot): PolicyIndex =>
  snapshot.memo('policy-index', () => new PolicyIndex(snapshot.all('policy') as readonly PolicyInput[]), ['policy']);

/** An LLM call's body, as the LLM proxy parsed it (messages' text may be redacted in place). */
type ChatBody = Record<string, unknown>;

const DAY: LimitWindow = { type: 'calendar', unit: 'day' };
const MONTH: LimitWindow = { type: 'calendar', unit: 'month' };

/** The limiter rule of a rate_limit or quota policy for one request. */
function limitRule(p: CompiledPolicy, ctx: LimitContext): LimitRule {
  const b = p.body as BodyOf<'rate_limit'> | BodyOf<'quota'>;
  const who =
    b.per === 'tenant' && ctx.tenant
      ? `tenant:${ctx.tenant.id}`
      : b.per !== 'ip' && ctx.key
        ? `key:${ctx.key.id}`
        : `ip:${ctx.clientIp}`;
  // the counter is named by its window too: an edit to another window starts afresh, not under the old one's end
  const counter = (window: string) => `policy:${p.tenantId ?? '*'}/${p.id}/${window}:${who}`;
  const source = `policy "${p.id}"`;
  if (p.type === 'quota') {
    const q = b as BodyOf<'quota'>;
    const window = q.period === 'day' ? DAY : MONTH;
    return { key: counter(q.period), limit: q.limit, window, reason: 'quota', source };
  }
  const r = b as BodyOf<'rate_limit'>;
  const window: LimitWindow = { type: 'span', ms: r.window_secs * 1000 };
  return { key: counter(`${r.window_secs}s`), limit: r.limit, window, reason: 'rate_limit', source };
}

const identityOf = (ctx: LimitContext): RequestIdentity => ({
  tenantId: ctx.tenant?.id ?? null,
  keyId: ctx.key?.id ?? null,
  routeId: ctx.route.id,
  routeOwner: ctx.route.tenant_id,
});

const isLimit = (p: CompiledPolicy) => p.type === 'rate_limit' || p.type === 'quota';

/** Per data plane: the limiter source of ACTIVE limits, and the counters SHADOW limits count on. */
class PolicyEngine {
  private readonly shadowLimiter: RateLimiter;
  /** The one rule the shadow limiter is asked about next (it takes its rules from sources). */
  private shadowRule: LimitRule[] = [];
  readonly stats: ShadowStats;

  constructor(dp: DataPlane) {
    const snapshot = dp.gw.snapshot;
    this.stats = shadowStatsOf(dp.gw);
    this.shadowLimiter = new RateLimiter([() => this.shadowRule]);
    dp.limiter.addSource((ctx) => {
      const index = policyIndex(snapshot);
      if (!index.size) return [];
      const rules: LimitRule[] = [];
      const who = identityOf(ctx);
      for (const p of index.forTenant(who.tenantId).limits) if (targets(p, who)) rules.push(limitRule(p, ctx));
      return rules;
    });
  }

  /** What a SHADOW policy would do with the request, recorded; a shadow limit counts on counters of its own. */
  shadow(p: CompiledPolicy, r: PolicyRequest, ctx: LimitContext): void {
    const d = decide(p, r);
    if (isLimit(p)) {
      this.shadowRule = [limitRule(p, ctx)];
      const taken = this.shadowLimiter.take(ctx);
      this.shadowRule = [];
      d.verdict = taken.allowed ? 'allow' : 'deny';
      d.reason = taken.allowed
        ? `within: ${d.reason}`
        : `would refuse: over ${d.reason.replace('counts against ', '')}`;
    }
    this.stats.record(d, {
      method: r.method,
      path: r.path,
      tenant_id: r.tenantId,
      api_key_id: r.keyId,
      route_id: r.routeId,
    });
  }
}

const engines = new WeakMap<DataPlane, PolicyEngine>();
const engineOf = (dp: DataPlane) => {
  let e = engines.get(dp);
  if (!e) engines.set(dp, (e = new PolicyEngine(dp)));
  return e;
};

/** The text parts of chat messages: a string `content`, or the `text` of its parts. */
function messageTexts(chat: ChatBody | undefined): string[] {
  const out: string[] = [];
  if (!chat || !Array.isArray(chat.messages)) return out;
  for (const m of chat.messages as Record<string, unknown>[]) {
    if (typeof m.content === 'string') out.push(m.content);
    else if (Array.isArray(m.content))
      for (const part of m.content as Record<string, unknown>[])
        if (typeof part?.text === 'string') out.push(part.text);
  }
  return out;
}

/** Applies a redacting guardrail to the chat messages in place (what goes upstream). */
function redactChat(p: CompiledPolicy, chat: ChatBody): void {
  for (const m of chat.messages as Record<string, unknown>[]) {
    if (typeof m.content === 'string') m.content = redact(p, [m.content], 'prompt')[0];
    else if (Array.isArray(m.content))
      for (const part of m.content as Record<string, unknown>[])
        if (typeof part?.text === 'string') part.text = redact(p, [part.text], 'prompt')[0];
  }
}

const denied = (p: CompiledPolicy, reason: string) =>
  new ApiError('POLICY_DENIED', `Policy "${p.id}" (${p.type}) refused the request: ${reason}`);

/** CORS headers for an allowed origin; a preflight is answered here (true: the reply is sent). */
function applyCors(p: CompiledPolicy, req: FastifyRequest, reply: FastifyReply, origin: string): boolean {
  const b = p.body as BodyOf<'cors'>;
  const any = p.origins!.has('*') && !b.allow_credentials;
  reply.header('access-control-allow-origin', any ? '*' : origin);
  if (!any) reply.header('vary', 'Origin');
  if (b.allow_credentials) reply.header('access-control-allow-credentials', 'true');
  if (b.expose_headers.length) reply.header('access-control-expose-headers', b.expose_headers.join(', '));
  if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method']) return false;
  if (b.allow_methods.length) reply.header('access-control-allow-methods', b.allow_methods.join(', '));
  const asked = req.headers['access-control-request-headers'];
  const headers = b.allow_headers.length ? b.allow_headers.join(', ') : asked;
  if (headers) reply.header('access-control-allow-headers', headers);
  reply.header('access-control-max-age', String(b.max_age_secs));
  reply.code(204).send();
  return true;
}

/**
 * Runs the policies that cover a request. Throws the refusal of an ACTIVE policy; returns true when it answered the
 * request itself (a CORS preflight), false to go on.
 */
export function applyPolicies(
  dp: DataPlane,
  req: FastifyRequest,
  reply: FastifyReply,
  tenant: TenantState | null,
  key: SnapshotApiKey | null,
  route: RouteState,
  chat?: ChatBody,
): boolean {
  const index = policyIndex(dp.gw.snapshot);
  if (!index.size) return false;
  // made before anything returns: it also registers the ACTIVE limits with the limiter `dp.admit` runs next
  const engine = engineOf(dp);
  const { shadow, enforced } = index.forTenant(tenant?.id ?? null);
  if (!shadow.length && !enforced.length) return false;
  const q = req.url.indexOf('?');
  const r: PolicyRequest = {
    method: req.method,
    path: q < 0 ? req.url : req.url.slice(0, q),
    headers: req.headers,
    clientIp: req.ip,
    tenantId: tenant?.id ?? null,
    keyId: key?.id ?? null,
    routeId: route.id,
    routeOwner: route.tenant_id,
    model: typeof chat?.model === 'string' ? chat.model : null,
    prompt: messageTexts(chat),
  };
  const ctx: LimitContext = { tenant, key, route, clientIp: req.ip };
  // shadow first: what they would do is recorded even when an active policy then refuses the request
  for (const p of shadow) if (targets(p, r)) engine.shadow(p, r, ctx);
  for (const p of enforced) {
    if (!targets(p, r)) continue;
    const d = decide(p, r);
    if (d.verdict === 'deny') throw denied(p, d.reason);
    if (p.type === 'cors' && d.verdict === 'allow' && !chat) {
      if (applyCors(p, req, reply, String(req.headers.origin))) return true;
    } else if (p.type === 'cors' && d.verdict === 'allow') {
      reply.header('access-control-allow-origin', String(req.headers.origin)).header('vary', 'Origin');
    }
    if (d.verdict === 'redact' && chat) {
      redactChat(p, chat);
      r.prompt = messageTexts(chat);
    }
  }
  return false;
}

/** The guardrails that read one LLM call's answer: ACTIVE ones act on it, SHADOW ones record what they would do. */
export interface AnswerGuards {
  active: readonly CompiledPolicy[];
  shadow: readonly CompiledPolicy[];
  /** Records what each SHADOW guardrail would have done with the answer's texts. */
  recordShadow(texts: string[]): void;
}

/**
 * The answer guardrails covering an LLM call, or undefined when none does: then a stream keeps its zero-copy relay
 * and a non-streamed answer is passed on untouched.
 */
export function answerGuardsOf(
  dp: DataPlane,
  req: FastifyRequest,
  tenant: TenantState,
  key: SnapshotApiKey,
  route: RouteState,
): AnswerGuards | undefined {
  const index = policyIndex(dp.gw.snapshot);
  if (!index.size) return undefined;
  const who: RequestIdentity = { tenantId: tenant.id, keyId: key.id, routeId: route.id, routeOwner: route.tenant_id };
  const policies = index.forTenant(tenant.id);
  const active = policies.answerGuards.filter((p) => targets(p, who));
  const shadow = policies.shadowAnswerGuards.filter((p) => targets(p, who));
  if (!active.length && !shadow.length) return undefined;
  const q = req.url.indexOf('?');
  const sample = { method: req.method, path: q < 0 ? req.url : req.url.slice(0, q) };
  const recordShadow = (texts: string[]) => {
    const stats = engineOf(dp).stats;
    for (const p of shadow) {
      const r: PolicyRequest = { ...sample, ...who, headers: {}, clientIp: req.ip, model: null, prompt: [] };
      // the first answer text it would act on decides (block before redact within one text)
      const decisions = texts.map((response) => decide(p, { ...r, response }));
      const d = decisions.find((x) => x.verdict === 'deny') ?? decisions.find((x) => x.verdict === 'redact');
      const decision = d ?? decide(p, { ...r, response: '' });
      decision.reason = `answer: ${decision.reason}`;
      stats.record(decision, { ...sample, tenant_id: tenant.id, api_key_id: key.id, route_id: route.id });
    }
  };
  return { active, shadow, recordShadow };
}

/**
 * A CORS preflight without an API key (browsers never send one) on a route that needs a key: answered here, before
 * the key check, by the first ACTIVE CORS policy covering the route (its tenant's or a global one). True: answered.
 */
export function answerPreflight(dp: DataPlane, req: FastifyRequest, reply: FastifyReply, route: RouteState): boolean {
  const origin = req.headers.origin;
  if (req.method !== 'OPTIONS' || !origin || !req.headers['access-control-request-method']) return false;
  const index = policyIndex(dp.gw.snapshot);
  if (!index.size) return false;
  const who: RequestIdentity = {
    tenantId: route.tenant_id,
    keyId: null,
    routeId: route.id,
    routeOwner: route.tenant_id,
  };
  const cors = index.forTenant(route.tenant_id).enforced.find((p) => p.type === 'cors' && targets(p, who));
  if (!cors) return false;
  if (!cors.origins!.has('*') && !cors.origins!.has(origin)) throw denied(cors, `origin ${origin} is not allowed`);
  return applyCors(cors, req, reply, origin);
}
