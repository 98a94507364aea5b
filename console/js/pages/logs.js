import { api } from '../api.js';
import { add, announce, field, h, time } from '../dom.js';
import { values } from '../forms.js';
import { pagedTable } from '../table.js';
import { badge, header, writeButton } from './common.js';

/** Request logs and error events, each filtered and paged. */
export function logsPage(main) {
  let filters = {};
  const logs = pagedTable({
    caption: 'Request logs',
    path: '/request-logs',
    params: () => filters,
    empty: 'No requests match. Traffic through the data plane (port 8080) appears here.',
    columns: [
      { label: 'When', cell: (r) => time(r.created_at) },
      { label: 'Tenant', cell: (r) => r.tenant_id ?? '—' },
      { label: 'Kind', cell: (r) => r.kind },
      { label: 'Request', cell: (r) => h('code', {}, `${r.method ?? ''} ${r.path ?? r.model ?? ''}`) },
      { label: 'Status', cell: (r) => badge(String(r.status)) },
      { label: 'Latency', cell: (r) => (r.latency_ms !== undefined ? `${r.latency_ms} ms` : '—') },
      { label: 'Route', cell: (r) => r.route_id ?? '—' },
    ],
  });
  const errors = pagedTable({
    caption: 'Error events',
    path: '/error-events',
    params: () => ({ tenant_id: filters.tenant_id, route_id: filters.route_id, from: filters.from, to: filters.to }),
    empty: 'No error events: upstream failures and timeouts would appear here.',
    columns: [
      { label: 'When', cell: (e) => time(e.created_at) },
      { label: 'Tenant', cell: (e) => e.tenant_id ?? '—' },
      { label: 'Code', cell: (e) => h('code', {}, e.code ?? e.error_code ?? '—') },
      { label: 'Message', cell: (e) => e.message ?? '—' },
      { label: 'Resolved', cell: (e) => badge(e.resolved ? 'YES' : 'NO') },
      {
        label: 'Actions',
        cell: (e) =>
          e.resolved
            ? null
            : writeButton('routes', 'Resolve', async () => {
                await api('POST', `/error-events/${encodeURIComponent(e.id)}/resolve`).then(
                  () => announce('Resolved.'),
                  (err) => announce(err.message, 'error'),
                );
                errors.reload();
              }),
      },
    ],
  });
  const form = h(
    'form',
    { class: 'filters card', 'aria-label': 'Filter logs' },
    field({ label: 'Tenant', name: 'tenant_id' }),
    field({ label: 'Route', name: 'route_id' }),
    field({ label: 'Status', name: 'status', type: 'number', placeholder: 'e.g. 502' }),
    field({ label: 'From', name: 'from', type: 'datetime-local' }),
    field({ label: 'To', name: 'to', type: 'datetime-local' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply filters')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    const iso = (t) => (t ? new Date(t).toISOString() : undefined);
    filters = {
      tenant_id: v.tenant_id.trim(),
      route_id: v.route_id.trim(),
      status: v.status,
      from: iso(v.from),
      to: iso(v.to),
    };
    logs.reload();
    errors.reload();
  });
  add(main, header('Request logs'), form, logs, h('h2', {}, 'Error events'), errors);
}
