import { api } from '../api.js';
import { add, button, field, fill, h, time } from '../dom.js';
import { values } from '../forms.js';
import { pagedTable } from '../table.js';
import { header } from './common.js';

/** `datetime-local` text (the viewer's zone) as ISO UTC, or nothing. */
const isoOf = (local) => (local ? new Date(local).toISOString() : undefined);

/** One change of an event: `field: before → after`, or the event's own summary when it is not per field. */
function changeList(changes) {
  if (!changes || typeof changes !== 'object') return h('span', { class: 'muted' }, '—');
  const entries = Object.entries(changes);
  const perField = entries.every(([, c]) => c && typeof c === 'object' && ('from' in c || 'to' in c));
  if (!perField)
    return h(
      'details',
      {},
      h('summary', {}, `${entries.length} fields`),
      h('pre', { class: 'json' }, JSON.stringify(changes, null, 2)),
    );
  const show = (v) => (v === undefined ? '∅' : JSON.stringify(v));
  return h(
    'ul',
    { class: 'changes' },
    entries.map(([k, c]) => h('li', {}, h('code', {}, k), ': ', show(c.from), ' → ', show(c.to))),
  );
}

/** The audit log: filters, each event's changes, and the hash chain's verification as a badge. */
export function auditPage(main) {
  const badgeSlot = h('div', { class: 'verify' });
  let filters = {};
  const table = pagedTable({
    caption: 'Audit events',
    path: '/audit/events',
    params: () => filters,
    limit: 25,
    empty: 'No events match. Clear the filters, or make a change: every write is recorded here.',
    columns: [
      { label: 'When', cell: (e) => time(e.created_at) },
      { label: 'Event', cell: (e) => h('code', { class: 'event-type' }, e.type) },
      { label: 'Actor', cell: (e) => h('span', { title: `${e.actor.type} ${e.actor.id}` }, e.actor.name) },
      { label: 'Tenant', cell: (e) => e.tenant_id ?? h('span', { class: 'muted' }, '—') },
      { label: 'Resource', cell: (e) => (e.resource ? `${e.resource.kind} ${e.resource.id}` : '—') },
      { label: 'Changes', cell: (e) => changeList(e.changes) },
      { label: 'Seq', cell: (e) => h('span', { title: `hash ${e.hash}` }, `#${e.seq}`) },
    ],
  });

  async function verify() {
    fill(badgeSlot, h('span', { class: 'badge' }, 'Verifying the chain…'));
    try {
      const r = await api('GET', '/audit/verify');
      fill(
        badgeSlot,
        r.valid
          ? h('span', { class: 'badge status-active', 'data-valid': 'true' }, `✓ Chain verified: ${r.checked} events`)
          : h(
              'span',
              { class: 'badge status-revoked', 'data-valid': 'false' },
              `✗ Chain broken at event #${r.first_invalid_seq}`,
            ),
      );
    } catch (err) {
      fill(badgeSlot, h('span', { class: 'badge status-revoked' }, `Could not verify: ${err.message}`));
    }
  }

  const filterForm = h(
    'form',
    { class: 'filters card', 'aria-label': 'Filter events' },
    field({ label: 'Event type', name: 'type', placeholder: 'e.g. ROUTE_UPDATED' }),
    field({ label: 'Tenant', name: 'tenant_id' }),
    field({ label: 'From', name: 'from', type: 'datetime-local' }),
    field({ label: 'To', name: 'to', type: 'datetime-local' }),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
      h('button', { type: 'reset' }, 'Clear'),
    ),
  );
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(filterForm);
    filters = { type: v.type.trim(), tenant_id: v.tenant_id.trim(), from: isoOf(v.from), to: isoOf(v.to) };
    table.reload();
  });
  filterForm.addEventListener('reset', () => {
    filters = {};
    setTimeout(() => table.reload());
  });

  add(main, header('Audit log', badgeSlot, button('Verify chain', verify)), filterForm, table);
  verify();
}
