import { z } from 'zod';
import { policy } from '../resources/policy';
import { compilePolicy, type PolicyInput } from './compile';
import { decide, type Decision, type PolicyRequest } from './evaluate';
import { checkBody, issueProblems, parsePolicyBody, parseYaml, textOffset, type BodyProblem } from './parse';
import type { PolicyType } from './types';

/** The sample request of a dry-run: what the data plane would know about a call. */
export const sampleRequest = z.strictObject({
  method: z.string().min(1).max(10).default('GET'),
  path: z.string().max(2048).default('/'),
  headers: z.record(z.string().max(100), z.string().max(8192)).default({}),
  body: z.unknown().optional(),
  key: z.string().max(100).nullable().default(null).describe('The API key id of the caller'),
  tenant_id: z.string().max(63).nullable().optional(),
  route_id: z.string().max(100).nullable().default(null),
  model: z.string().max(200).nullable().default(null),
  client_ip: z.ipv4().or(z.ipv6()).default('127.0.0.1'),
  response: z.string().max(65_536).optional().describe("An upstream answer's text, for response guardrails"),
});
export type SampleRequest = z.output<typeof sampleRequest>;

export const dryRunBody = z.strictObject({
  document: z
    .string()
    .min(1)
    .max(262_144)
    .describe('One policy, a list of them, or {policies: [...]}, as YAML or JSON'),
  request: sampleRequest.default(sampleRequest.parse({})),
});

/** A policy of a dry-run document: the resource's fields, with `body` as text or as a nested mapping. */
export interface DryRunPolicy extends PolicyInput {
  index: number;
}

export type DryRunDocument = { ok: true; policies: DryRunPolicy[] } | { ok: false; problems: BodyProblem[] };

const META = new Set(['id', 'tenant_id', 'status']);

/**
 * Parses and validates a dry-run document. Problems carry their path in the document (`policies.0.body.limit`) and
 * its line. `ownerOf` decides each policy's tenant (a tenant caller's are its own).
 */
export function parseDryRunDocument(text: string, ownerOf: (given: unknown) => string | null): DryRunDocument {
  const yaml = parseYaml(text);
  if (!yaml.ok) return yaml;
  const v = yaml.value as unknown;
  const [entries, base]: [unknown[], (string | number)[]] = Array.isArray(v)
    ? [v, []]
    : v && typeof v === 'object' && Array.isArray((v as { policies?: unknown }).policies)
      ? [(v as { policies: unknown[] }).policies, ['policies']]
      : [[v], []];
  const single = !Array.isArray(v) && base.length === 0;
  const problems: BodyProblem[] = [];
  const policies: DryRunPolicy[] = [];
  entries.forEach((entry, i) => {
    const at = single ? base : [...base, i];
    const where = (path: readonly PropertyKey[]) => yaml.lineAt([...at, ...path]);
    const prefix = at.join('.');
    const place = (ps: BodyProblem[]) =>
      problems.push(...ps.map((p) => ({ ...p, path: [prefix, p.path].filter(Boolean).join('.') })));
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      place([{ path: '', line: where([]), message: 'must be a policy (a mapping)' }]);
      return;
    }
    const raw = entry as Record<string, unknown>;
    const text = typeof raw.body === 'string' ? raw.body : JSON.stringify(raw.body ?? {});
    const fields = Object.fromEntries(Object.entries(raw).filter(([k]) => !META.has(k)));
    const parsed = policy.fields.safeParse({ ...fields, body: text });
    if (!parsed.success) return place(issueProblems(parsed.error, where));
    const f = parsed.data;
    const tenant_id = ownerOf(raw.tenant_id);
    const body =
      typeof raw.body === 'string'
        ? shifted(parsePolicyBody(f.type, text), where(['body']) + textOffset(yaml.doc, [...at, 'body']))
        : checkBody(f.type as PolicyType, raw.body, (p) => where(['body', ...p]));
    if (!body.ok) return place(body.problems.map((p) => ({ ...p, path: ['body', p.path].filter(Boolean).join('.') })));
    const rules = policy.check!({ ...f, tenant_id }).filter((p) => !p.path.startsWith('body'));
    if (rules.length) return place(rules.map((p) => ({ path: p.path, line: where([p.path]), message: p.message })));
    const id = typeof raw.id === 'string' ? raw.id : `policy-${i}`;
    policies.push({ ...f, id, tenant_id, status: 'ACTIVE', index: i });
  });
  return problems.length ? { ok: false, problems } : { ok: true, policies };
}

/** Lines of a body held as text in the document, counted from the document's top. */
function shifted(parsed: ReturnType<typeof parsePolicyBody>, offset: number) {
  return parsed.ok
    ? parsed
    : { ok: false as const, problems: parsed.problems.map((p) => ({ ...p, line: p.line + offset })) };
}

/** The text of a sample chat body's messages. */
function promptOf(body: unknown): string[] {
  const messages = (body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages)) return typeof body === 'string' ? [body] : [];
  return messages.flatMap((m: { content?: unknown }) => (typeof m?.content === 'string' ? [m.content] : []));
}

export interface DryRunResult {
  /** What the request would meet: refused by the first denying policy in priority order, else allowed. */
  outcome: 'allow' | 'deny';
  decided_by: string | null;
  decisions: (Decision & { priority: number })[];
}

/** Evaluates each policy against the sample request, in priority order, as the data plane would if all were ACTIVE. */
export function evaluateDryRun(policies: DryRunPolicy[], req: SampleRequest, tenantId: string | null): DryRunResult {
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const body = req.body as { model?: unknown } | undefined;
  const r: PolicyRequest = {
    method: req.method.toUpperCase(),
    path: req.path,
    headers,
    clientIp: req.client_ip,
    tenantId,
    keyId: req.key,
    routeId: req.route_id,
    routeOwner: null, // the sample names a route by id only: it matches a policy's route of any owner
    model: req.model ?? (typeof body?.model === 'string' ? body.model : null),
    prompt: promptOf(req.body),
    response: req.response,
  };
  const compiled = policies
    .map((p) => ({ p, c: compilePolicy(p)! }))
    .sort((a, b) => b.p.priority - a.p.priority || a.p.index - b.p.index);
  const decisions = compiled.map(({ p, c }) => ({ ...decide(c, r), priority: p.priority }));
  const denial = decisions.find((d) => d.verdict === 'deny');
  return { outcome: denial ? 'deny' : 'allow', decided_by: denial?.policy_id ?? null, decisions };
}
