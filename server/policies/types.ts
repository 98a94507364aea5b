import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * What each policy type's `body` holds, one zod schema per type. The body arrives as YAML or JSON text and is
 * validated here (server/policies/parse.ts maps a problem back to its YAML line); the data plane compiles the parsed
 * value once per configuration snapshot (./compile.ts).
 */

export const POLICY_TYPES = ['rate_limit', 'quota', 'cors', 'ip_filter', 'guardrail', 'approval_gate'] as const;
export type PolicyType = (typeof POLICY_TYPES)[number];

export const POLICY_STATUSES = ['DRAFT', 'SHADOW', 'ACTIVE', 'DISABLED'] as const;
export type PolicyStatus = (typeof POLICY_STATUSES)[number];

const count = () => z.number().int().min(1).max(1_000_000_000_000);

/** An address range: `10.0.0.0/8`, `2001:db8::/32`, or one address (`192.0.2.7`). */
const cidr = () =>
  z
    .string()
    .max(64)
    .refine((s) => parseCidr(s) !== undefined, 'must be an IP address or a CIDR range (10.0.0.0/8, 2001:db8::/32)');

export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', bits, extra] = text.trim().split('/');
  const version = isIP(address);
  if (!version || extra !== undefined) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Whether a pattern repeats a group that itself repeats (`(a+)+`, `(\\w*\\s?)*`) or refers back to a group: the
 * shapes that can backtrack for exponential time. A tenant's guardrail runs on the shared data plane, so such patterns
 * are refused rather than risked (a heuristic: it looks at group nesting, not at what the groups can match).
 */
export function backtracksBadly(pattern: string): boolean {
  if (/\\[1-9]|\\k</.test(pattern)) return true;
  const groups: boolean[] = []; // per open group: whether it holds a quantifier
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      continue;
    }
    if (c === '(') groups.push(false);
    else if (c === ')') {
      const inner = groups.pop() ?? false;
      const next = pattern[i + 1];
      const repeated = next === '*' || next === '+' || next === '{';
      if (inner && repeated) return true;
      if (groups.length) groups[groups.length - 1] ||= inner || repeated;
    } else if ((c === '*' || c === '+' || c === '{') && groups.length) groups[groups.length - 1] = true;
  }
  return false;
}

/** A regular expression the data plane can compile (JavaScript syntax), bounded in size and in backtracking. */
const pattern = () =>
  z
    .string()
    .min(1)
    .max(1000)
    .refine((p) => {
      try {
        new RegExp(p, 'u');
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression')
    .refine((p) => !backtracksBadly(p), 'must not repeat a repeated group or use backreferences (slow to match)');

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export const rateLimitBody = z.strictObject({
  limit: count().describe('Requests per window.'),
  window_secs: z.number().int().min(1).max(31_536_000).describe('The window, in seconds, from its first request.'),
  per: z.enum(['key', 'tenant', 'ip']).default('key').describe('Who is counted: each API key, tenant or address.'),
});

export const quotaBody = z.strictObject({
  limit: count().describe('Requests per UTC day or month.'),
  period: z.enum(['day', 'month']).describe('The calendar period (UTC).'),
  per: z.enum(['key', 'tenant']).default('key').describe('Who is counted: each API key, or the whole tenant.'),
});

const origin = z
  .string()
  .max(300)
  .refine((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o), 'must be "*" or an origin (https://app.example.com)');

export const corsBody = z.strictObject({
  allow_origins: z.array(origin).min(1).max(100),
  allow_methods: z.array(z.enum(HTTP_METHODS)).max(HTTP_METHODS.length).default([]),
  allow_headers: z.array(z.string().min(1).max(100)).max(100).default([]),
  expose_headers: z.array(z.string().min(1).max(100)).max(100).default([]),
  allow_credentials: z.boolean().default(false),
  max_age_secs: z.number().int().min(0).max(86_400).default(600),
});

export const ipFilterBody = z
  .strictObject({
    allow: z.array(cidr()).max(1000).default([]),
    deny: z.array(cidr()).max(1000).default([]),
  })
  .refine((b) => b.allow.length + b.deny.length > 0, { message: 'give at least one range in allow or deny' });

const guardrailRule = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  pattern: pattern(),
  ignore_case: z.boolean().default(false),
  on: z.enum(['prompt', 'response', 'both']).default('prompt'),
  action: z.enum(['block', 'redact']),
  replacement: z.string().max(200).default('[REDACTED]'),
});

export const guardrailBody = z.strictObject({ rules: z.array(guardrailRule).min(1).max(100) });

export const approvalGateBody = z.strictObject({
  tools: z.array(z.string().min(1).max(200)).min(1).max(200),
  servers: z.array(z.string().min(1).max(100)).max(100).default([]),
  approvers: z.array(z.string().min(1).max(200)).max(50).default([]),
  timeout_secs: z.number().int().min(1).max(86_400).default(300),
});

export const BODY_SCHEMAS = {
  rate_limit: rateLimitBody,
  quota: quotaBody,
  cors: corsBody,
  ip_filter: ipFilterBody,
  guardrail: guardrailBody,
  approval_gate: approvalGateBody,
} as const satisfies Record<PolicyType, z.ZodType>;

export type BodyOf<T extends PolicyType> = z.output<(typeof BODY_SCHEMAS)[T]>;
export type AnyBody = { [T in PolicyType]: BodyOf<T> }[PolicyType];
