import { isIP } from 'node:net';
import { z } from 'zod';
import { linearRegexProblem } from '../lib/linear-regex';

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

/** A regular expression the data plane runs in linear time (server/lib/linear-regex.ts), bounded in size. */
const pattern = () =>
  z
    .string()
    .min(1)
    .max(1000)
    .superRefine((p, ctx) => {
      const problem = linearRegexProblem(p);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

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
