import { api, can, me } from '../api.js';
import { add, announce, field, h, time } from '../dom.js';
import { form, metadataText, parseMetadata } from '../forms.js';
import { pagedTable } from '../table.js';
import { badge, header, openDialog, writeButton } from './common.js';

const tenantFields = (t = {}) => [
  field({ label: 'Name', name: 'name', required: true, value: t.name }),
  field({
    label: 'Region',
    name: 'region',
    value: t.region ?? '',
    hint: 'A label for where the tenant is served from; may be empty.',
  }),
  field({
    label: 'Metadata',
    name: 'metadata',
    type: 'textarea',
    rows: 4,
    value: metadataText(t.metadata),
    hint: 'One key=value per line.',
  }),
];

const body = (v, status) => ({
  name: v.name,
  status,
  region: v.region.trim() || null,
  metadata: parseMetadata(v.metadata),
});

/** Tenants: list, filter, create, edit metadata, suspend or reactivate. */
export function tenantsPage(main) {
  const table = pagedTable({
    caption: 'Tenants',
    path: '/tenants',
    empty: can('tenants', 'write')
      ? 'No tenants yet. Create the first with “New tenant”.'
      : 'No tenants are visible to your token.',
    filter: {
      label: 'Filter tenants on this page',
      placeholder: 'id, name, status or region',
      match: (t, text) => [t.id, t.name, t.status, t.region ?? ''].some((s) => s.toLowerCase().includes(text)),
    },
    columns: [
      {
        label: 'ID',
        cell: (t) => h('a', { href: `#/tenants/${encodeURIComponent(t.id)}/keys`, title: 'Open its keys' }, t.id),
      },
      { label: 'Name', cell: (t) => t.name },
      { label: 'Status', cell: (t) => badge(t.status) },
      { label: 'Region', cell: (t) => t.region ?? '—' },
      { label: 'Metadata', cell: (t) => metadataText(t.metadata).split('\n').join(', ') || '—' },
      { label: 'Created', cell: (t) => time(t.created_at) },
      {
        label: 'Actions',
        cell: (t) =>
          h(
            'div',
            { class: 'row-actions' },
            h('a', { href: `#/tenants/${encodeURIComponent(t.id)}/keys` }, 'Keys'),
            writeButton('tenants', 'Edit', () => edit(t), { 'aria-label': `Edit ${t.id}` }),
            writeButton('tenants', t.status === 'ACTIVE' ? 'Suspend' : 'Reactivate', () => toggle(t), {
              'aria-label': `${t.status === 'ACTIVE' ? 'Suspend' : 'Reactivate'} ${t.id}`,
              class: t.status === 'ACTIVE' ? 'danger' : '',
            }),
          ),
      },
    ],
  });

  function create() {
    const close = openDialog(
      'New tenant',
      form({
        fields: [
          field({
            label: 'ID',
            name: 'id',
            required: true,
            hint: 'Lower-case letters, digits, “-”, “_” or “.”; fixed once created.',
          }),
          ...tenantFields(),
        ],
        submit: 'Create tenant',
        async onsubmit(v) {
          const made = await api('POST', '/tenants', { id: v.id.trim(), ...body(v, 'ACTIVE') });
          close();
          announce(`Tenant ${made.id} created.`);
          table.reload();
        },
      }),
    );
  }

  function edit(t) {
    const close = openDialog(
      `Edit ${t.id}`,
      form({
        fields: tenantFields(t),
        submit: 'Save',
        async onsubmit(v) {
          await api('PUT', `/tenants/${encodeURIComponent(t.id)}`, body(v, t.status));
          close();
          announce(`Tenant ${t.id} saved.`);
          table.reload();
        },
      }),
    );
  }

  async function toggle(t) {
    const status = t.status === 'ACTIVE' ? 'SUSPENDED' : 'ACTIVE';
    const verb = status === 'SUSPENDED' ? 'Suspend' : 'Reactivate';
    if (status === 'SUSPENDED' && !confirm(`Suspend ${t.id}? Its traffic is refused until it is reactivated.`)) return;
    try {
      await api('PUT', `/tenants/${encodeURIComponent(t.id)}`, {
        name: t.name,
        status,
        region: t.region,
        metadata: t.metadata,
      });
      announce(`${verb}d ${t.id}.`);
    } catch (err) {
      announce(`Could not ${verb.toLowerCase()} ${t.id}: ${err.message}`, 'error');
    }
    table.reload();
  }

  add(
    main,
    header('Tenants', writeButton('tenants', 'New tenant', create, { class: 'primary' })),
    me().tenant_id
      ? h('p', { class: 'muted' }, `Your token belongs to tenant ${me().tenant_id}: only it is listed.`)
      : null,
    table,
  );
}
