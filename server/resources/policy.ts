import { z } from 'zod';
import { bodyProblemDetails, parsePolicyBody } from '../policies/parse';
import { POLICY_STATUSES, POLICY_TYPES } from '../policies/types';
import { defineResource, name } from './define';

/**
 * A policy (seed 000): a rule of one `type` for a target (every request, a tenant's, a route's or an API key's), with
 * its settings in `body` as YAML or JSON text, validated per type (server/policies/). Created in DRAFT; its `status`
 * moves through `POST …/{id}/status` and `…/{id}/promote` (server/control/policy-routes.ts), never through PUT.
 * Versioned like routes: every change is a version, the last 10 are kept, rollback makes a new one.
 * (Unlike the other definitions this one imports server/policies/: the body's per-type schemas and YAML parsing.)
 */
export const policy = defineResource({
  kind: 'policy',
  title: 'Policy',
  plural: 'Policies',
  description:
    'A rate limit, quota, CORS, IP filter, guardrail or approval gate for every request, a tenant, a route or an API ' +
    'key; its settings are YAML or JSON. DRAFT → SHADOW (evaluated, not enforced) → ACTIVE → DISABLED. Versioned.',
  path: '/policies',
  exportKey: 'policies',
  scope: 'tenant-optional',
  area: 'policies',
  id: { source: 'either', prefix: 'pol_' },
  versioned: true,
  fields: z.strictObject({
    name: name().describe('What the policy is for.'),
    description: z.string().max(1000).default('').describe('More about it.'),
    type: z
      .enum(POLICY_TYPES)
      .describe('rate_limit, quota, cors, ip_filter, guardrail or approval_gate: what `body` holds.'),
    target: z
      .enum(['global', 'tenant', 'route', 'api_key'])
      .nullable()
      .default(null)
      .describe(
        'What it applies to: every request (global, tenant_id null), its tenant, a route or an API key (target_id); ' +
          "null: its owner's traffic (every request for a global policy, the tenant's for a tenant's).",
      ),
    target_id: z
      .string()
      .min(1)
      .max(100)
      .nullable()
      .default(null)
      .describe('The route or API key it applies to (target route or api_key); null otherwise.'),
    priority: z.number().int().min(-1_000_000).max(1_000_000).default(0).describe('Policies are applied higher first.'),
    body: z
      .string()
      .min(1)
      .max(65_536)
      .describe('The settings of its type, as YAML or JSON text (see docs/policies.md).'),
  }),
  computed: z.strictObject({
    status: z
      .enum(POLICY_STATUSES)
      .default('DRAFT')
      .describe('DRAFT, SHADOW, ACTIVE or DISABLED; changed through POST …/{id}/status and …/{id}/promote.'),
    version: z.number().int().default(1).describe('Counts the changes; rollback makes a new version.'),
  }),
  changesOnUpdate: ['version'],
  audit: {
    created: 'POLICY_CREATED',
    updated: 'POLICY_UPDATED',
    deleted: 'POLICY_DELETED',
    rolledBack: 'POLICY_ROLLED_BACK',
    // status is not a PUT field: the status and promote endpoints write this event when it changes
    fieldEvents: { status: 'POLICY_STATUS_CHANGED' },
  },
  check: (p) => {
    const problems: { path: string; message: string }[] = [];
    const global = p.tenant_id === null || p.tenant_id === undefined;
    if (p.target === 'global' && !global)
      problems.push({ path: 'target', message: 'global applies to policies without a tenant (tenant_id null)' });
    if ((p.target === 'tenant' || p.target === 'api_key') && global)
      problems.push({ path: 'tenant_id', message: `is required for the target "${p.target}"` });
    const named = p.target === 'route' || p.target === 'api_key';
    if (named && p.target_id === null)
      problems.push({ path: 'target_id', message: `names the ${p.target} (target "${p.target}")` });
    if (!named && p.target_id !== null)
      problems.push({ path: 'target_id', message: 'must be null unless target is route or api_key' });
    const parsed = parsePolicyBody(p.type, p.body);
    if (!parsed.ok) problems.push(...bodyProblemDetails(parsed.problems));
    return problems;
  },
});
