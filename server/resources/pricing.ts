import { z } from 'zod';
import { defineResource } from './define';

const perMillion = () => z.number().min(0).max(1e6);

/** What a model costs, per million tokens: token usage × pricing = the spend budgets count. */
export const pricing = defineResource({
  kind: 'pricing',
  title: 'Pricing entry',
  plural: 'Pricing entries',
  description:
    'The price of one provider model per million input and output tokens (USD). One entry per provider and model.',
  path: '/pricing',
  exportKey: 'pricing',
  scope: 'platform',
  area: 'pricing',
  id: { source: 'either', prefix: 'price_' },
  fields: z.strictObject({
    provider: z.string().min(1).max(64).describe('The LLM provider (`openai`).'),
    model: z.string().min(1).max(200).describe('The model name as the provider is called with it.'),
    input_per_million_usd: perMillion().describe('USD per million prompt tokens.'),
    output_per_million_usd: perMillion().describe('USD per million completion tokens.'),
  }),
  computed: z.strictObject({}),
  unique: (p) => JSON.stringify([p.provider, p.model]),
  audit: { created: 'PRICING_CREATED', updated: 'PRICING_UPDATED', deleted: 'PRICING_DELETED' },
});
