import { api } from '../api.js';
import { fill, h } from '../dom.js';
import { itemPath, resourcePage } from './resource.js';

/** A bar of the current period's spend against the cap (the number is written out too). */
function usageBar(b) {
  const slot = h('div', { class: 'usage' }, h('span', { class: 'muted' }, '…'));
  api('GET', itemPath(`/budgets`, b).replace(/(\?|$)/, '/usage$1')).then(
    (u) => {
      const pct = Math.min(100, u.percent_used);
      const bar = h('span', { class: `bar ${u.exceeded ? 'over' : pct >= 80 ? 'warn' : ''}` });
      bar.style.width = `${pct}%`; // a CSSOM property, which the CSP allows (no inline style attribute)
      fill(
        slot,
        h(
          'span',
          {
            class: 'track',
            role: 'meter',
            'aria-valuemin': 0,
            'aria-valuemax': 100,
            'aria-valuenow': pct.toFixed(0),
            'aria-label': `${b.name || b.id} spend`,
          },
          bar,
        ),
        h('span', {}, `$${u.spent_usd.toFixed(2)} of $${u.limit_usd.toFixed(2)} (${u.percent_used.toFixed(0)}%)`),
      );
    },
    (err) => fill(slot, h('span', { class: 'error' }, err.message)),
  );
  return slot;
}

export const budgetsPage = (main) =>
  resourcePage(main, {
    title: 'Budgets',
    singular: 'budget',
    area: 'budgets',
    path: '/budgets',
    template: {
      tenant_id: 'acme-corp',
      name: 'monthly cap',
      period: 'MONTHLY',
      limit_usd: 100,
      enforcement: 'HARD',
      alert_thresholds: [50, 80, 100],
    },
    columns: [
      { label: 'Name', cell: (b) => b.name || b.id },
      { label: 'Tenant', cell: (b) => b.tenant_id },
      { label: 'Scope', cell: (b) => (b.api_key_id ? `key ${b.api_key_id}` : 'whole tenant') },
      { label: 'Period', cell: (b) => `${b.period} · ${b.enforcement}` },
      { label: 'Current period', cell: usageBar },
    ],
  });
