import { h } from '../dom.js';
import { resourcePage } from './resource.js';

const usd = (n) => `$${Number(n).toFixed(4)}`;

export const pricingPage = (main) =>
  resourcePage(main, {
    title: 'Pricing',
    singular: 'price',
    area: 'pricing',
    path: '/pricing',
    intro: 'What each model costs per million tokens; usage and budgets are priced with these.',
    template: { provider: 'openai', model: 'gpt-4o', input_per_million_usd: 2.5, output_per_million_usd: 10 },
    columns: [
      { label: 'ID', cell: (p) => h('code', {}, p.id) },
      { label: 'Provider', cell: (p) => p.provider },
      { label: 'Model', cell: (p) => p.model },
      { label: 'Input / 1M', cell: (p) => usd(p.input_per_million_usd) },
      { label: 'Output / 1M', cell: (p) => usd(p.output_per_million_usd) },
    ],
  });
