import { z } from 'zod';
import { defineResource } from './define';

export const budget = defineResource({
  kind: 'budget',
  title: 'Budget',
  plural: 'Budgets',
  description:
    'A spend cap on a tenant (or one of its API keys) per UTC day, week or month. HARD refuses calls once exceeded; SOFT only alerts.',
  path: '/budgets',
  exportKey: 'budgets',
  scope: 'tenant',
  area: 'budgets',
  id: { source: 'either', prefix: 'bud_' },
  fields: z.strictObject({
    name: z.string().max(200).default('').describe('A label.'),
    api_key_id: z
      .string()
      .min(1)
      .max(100)
      .nullable()
      .default(null)
      .describe("One of the tenant's API keys to cap; null: the whole tenant."),
    period: z
      .enum(['DAILY', 'WEEKLY', 'MONTHLY'])
      .default('MONTHLY')
      .describe('The UTC period spend is counted over (weeks start on Monday).'),
    limit_usd: z.number().positive().max(1e12).describe('The cap, in USD per period.'),
    enforcement: z
      .enum(['HARD', 'SOFT'])
      .default('HARD')
      .describe('HARD refuses calls once the cap is reached; SOFT only alerts.'),
    alert_thresholds: z
      .array(z.number().int().min(1).max(100))
      .max(10)
      .refine((a) => a.every((v, i) => i === 0 || v > a[i - 1]!), 'must be increasing percentages')
      .default([50, 80, 100])
      .describe('Percentages of the cap that raise BUDGET_THRESHOLD_CROSSED, increasing.'),
  }),
  computed: z.strictObject({}),
  references: { api_key_id: 'api_key' },
  audit: { created: 'BUDGET_CREATED', updated: 'BUDGET_UPDATED', deleted: 'BUDGET_DELETED' },
});
