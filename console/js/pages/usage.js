import { api, query } from '../api.js';
import { add, field, fill, h, spinner } from '../dom.js';
import { values } from '../forms.js';
import { barChart } from '../charts.js';
import { header } from './common.js';

const usd = (v) => `$${v.toFixed(4)}`;
const MAX_PAGES = 4; // 2,000 records at most are summed in the page; the summary endpoint covers the rest by model

function sumBy(records, keyOf) {
  const sums = new Map();
  for (const r of records) sums.set(keyOf(r), (sums.get(keyOf(r)) ?? 0) + r.cost_usd);
  return [...sums.entries()];
}

/** Token usage and cost: totals, and cost by day, model and tenant as bar charts. */
export function usagePage(main) {
  const out = h('div', { 'aria-live': 'polite' });
  const dayAgo = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
  const filters = h(
    'form',
    { class: 'filters card', 'aria-label': 'Usage range' },
    field({ label: 'From (UTC day)', name: 'from', type: 'date', value: dayAgo(30) }),
    field({ label: 'To (UTC day)', name: 'to', type: 'date', value: dayAgo(-1) }),
    field({ label: 'Tenant', name: 'tenantId' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Show')),
  );

  async function load() {
    const v = values(filters);
    const range = {
      from: v.from ? `${v.from}T00:00:00Z` : undefined,
      to: v.to ? `${v.to}T00:00:00Z` : undefined,
      tenantId: v.tenantId.trim(),
    };
    fill(out, spinner('Loading usage…'));
    try {
      const summary = await api('GET', `/token-usage/summary${query(range)}`);
      const records = [];
      let cursor;
      for (let i = 0; i < MAX_PAGES; i++) {
        const page = await api('GET', `/token-usage${query({ ...range, limit: 500, cursor })}`);
        records.push(...page.data);
        cursor = page.next_cursor;
        if (!cursor) break;
      }
      const t = summary.totals;
      fill(
        out,
        h(
          'dl',
          { class: 'facts totals' },
          h('dt', {}, 'Calls'),
          h('dd', {}, t.calls.toLocaleString()),
          h('dt', {}, 'Input tokens'),
          h('dd', {}, t.input_tokens.toLocaleString()),
          h('dt', {}, 'Output tokens'),
          h('dd', {}, t.output_tokens.toLocaleString()),
          h('dt', {}, 'Cost'),
          h('dd', {}, usd(t.cost_usd)),
        ),
        cursor
          ? h(
              'p',
              { class: 'notice' },
              `Charts by day and tenant sum the latest ${records.length} calls; narrow the range for all.`,
            )
          : null,
        h(
          'div',
          { class: 'grid2' },
          barChart(
            'Cost by day (UTC)',
            sumBy(records, (r) => r.created_at.slice(0, 10)).sort(([a], [b]) => a.localeCompare(b)),
            usd,
          ),
          barChart(
            'Cost by model',
            summary.data.map((g) => [`${g.provider ?? '?'} ${g.model ?? '?'}`, g.cost_usd]),
            usd,
          ),
          barChart(
            'Cost by tenant',
            sumBy(records, (r) => r.tenant_id).sort((a, b) => b[1] - a[1]),
            usd,
          ),
        ),
      );
    } catch (err) {
      fill(out, h('p', { class: 'error', role: 'alert' }, `Could not load usage: ${err.message}`));
    }
  }
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  add(main, header('Usage and cost'), filters, out);
  load();
}
