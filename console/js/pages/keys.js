import { api, can } from '../api.js';
import { add, announce, field, h, time } from '../dom.js';
import { form } from '../forms.js';
import { pagedTable } from '../table.js';
import { badge, header, openDialog, secretOnce, writeButton } from './common.js';

/** A tenant's API keys: list, create (the plaintext shown once, with a copy button), revoke. */
export function keysPage(main, { tenant }) {
  const base = `/tenants/${encodeURIComponent(tenant)}/keys`;
  const slot = h('div', { class: 'secret-slot' });
  const table = pagedTable({
    caption: `API keys of ${tenant}`,
    path: base,
    empty: can('keys', 'write')
      ? 'This tenant has no API keys. Create one with “New key”.'
      : 'This tenant has no API keys.',
    filter: {
      label: 'Filter keys on this page',
      placeholder: 'name, id or status',
      match: (k, t) => [k.name, k.id, k.status].some((s) => s.toLowerCase().includes(t)),
    },
    columns: [
      { label: 'Name', cell: (k) => k.name },
      { label: 'ID', cell: (k) => h('code', {}, k.id) },
      { label: 'Prefix', cell: (k) => h('code', {}, `${k.prefix}…`) },
      { label: 'Status', cell: (k) => badge(k.status) },
      { label: 'Created', cell: (k) => time(k.created_at) },
      { label: 'Last used', cell: (k) => time(k.last_used_at) },
      { label: 'Expires', cell: (k) => time(k.expires_at) },
      {
        label: 'Actions',
        cell: (k) =>
          k.status === 'ACTIVE'
            ? writeButton('keys', 'Revoke', () => revoke(k), { class: 'danger', 'aria-label': `Revoke ${k.name}` })
            : null,
      },
    ],
  });

  function create() {
    const close = openDialog(
      'New API key',
      form({
        fields: [
          field({ label: 'Name', name: 'name', required: true, hint: 'What the key is for, e.g. production-key.' }),
          field({
            label: 'Expires at (optional)',
            name: 'expires_at',
            type: 'datetime-local',
            hint: 'In your time zone; empty: never.',
          }),
        ],
        submit: 'Create key',
        async onsubmit(v) {
          const input = { name: v.name.trim() };
          if (v.expires_at) input.expires_at = new Date(v.expires_at).toISOString();
          const made = await api('POST', base, input);
          close();
          announce(`Key ${made.name} created. Copy it now.`);
          slot.replaceChildren(
            secretOnce(`New key “${made.name}”`, made.key, () => table.querySelector('h1, button')?.focus()),
          );
          slot.querySelector('input')?.focus();
          table.reload();
        },
      }),
    );
  }

  async function revoke(k) {
    if (!confirm(`Revoke ${k.name}? Calls with it are refused at once; this cannot be undone.`)) return;
    try {
      await api('POST', `${base}/${encodeURIComponent(k.id)}/revoke`);
      announce(`Key ${k.name} revoked.`);
    } catch (err) {
      announce(`Could not revoke ${k.name}: ${err.message}`, 'error');
    }
    table.reload();
  }

  add(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/tenants' }, 'Tenants'), ' / ', tenant),
    header(`API keys of ${tenant}`, writeButton('keys', 'New key', create, { class: 'primary' })),
    slot,
    table,
  );
}
