import { api } from '../api.js';
import { announce, button, fill, h, spinner, time } from '../dom.js';
import { badge, openDialog, writeButton } from './common.js';
import { itemPath, resourcePage } from './resource.js';

const sub = (w, name) => itemPath('/webhooks', w).replace(/(\?|$)/, `/${name}$1`);

/** A webhook's recent deliveries, in a dialog. */
function deliveries(w) {
  const list = h('div', {}, spinner());
  openDialog(`Deliveries of ${w.id}`, list);
  api('GET', sub(w, 'deliveries')).then(
    (r) =>
      fill(
        list,
        r.data.length
          ? h(
              'table',
              {},
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['When', 'Event', 'Status', 'Attempts'].map((t) => h('th', { scope: 'col' }, t)),
                ),
              ),
              h(
                'tbody',
                {},
                r.data.map((d) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, time(d.created_at)),
                    h('td', {}, d.event_type),
                    h('td', {}, badge(d.status)),
                    h(
                      'td',
                      {},
                      d.attempts.map((a) => `#${a.attempt}: ${a.status_code ?? a.error ?? '—'}`).join(', ') || '—',
                    ),
                  ),
                ),
              ),
            )
          : h('p', { class: 'empty' }, 'No deliveries yet. Use “Send test” to send one.'),
      ),
    (err) => fill(list, h('p', { class: 'error' }, err.message)),
  );
}

export const webhooksPage = (main) =>
  resourcePage(main, {
    title: 'Webhooks',
    singular: 'webhook',
    area: 'webhooks',
    path: '/webhooks',
    secretField: 'secret',
    template: { tenant_id: 'acme-corp', url: 'https://hooks.example.com/portico', events: ['*'], active: true },
    columns: [
      { label: 'ID', cell: (w) => h('code', {}, w.id) },
      { label: 'Owner', cell: (w) => w.tenant_id ?? 'global' },
      { label: 'URL', cell: (w) => h('code', {}, w.url) },
      { label: 'Events', cell: (w) => w.events.join(', ') },
      { label: 'Active', cell: (w) => badge(w.active ? 'ON' : 'OFF') },
    ],
    rowActions: (w) => [
      button('Deliveries', () => deliveries(w)),
      writeButton('webhooks', 'Send test', async () => {
        try {
          const r = await api('POST', sub(w, 'test'));
          announce(
            r.delivered ? `Test delivered to ${w.url}.` : `Test not delivered: ${r.error ?? `status ${r.status_code}`}`,
            r.delivered ? 'info' : 'error',
          );
        } catch (err) {
          announce(`Send test failed: ${err.message}`, 'error');
        }
      }),
    ],
  });
