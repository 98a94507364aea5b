import { api, can } from '../api.js';
import { add, announce, field, h, time } from '../dom.js';
import { form, parseJsonField } from '../forms.js';
import { pagedTable } from '../table.js';
import { header, openDialog, secretOnce, writeButton } from './common.js';

/** Where one resource lives, with its owner named when it has one (ids are unique per owner). */
export const itemPath = (path, r) =>
  `${path}/${encodeURIComponent(r.id)}${r.tenant_id ? `?tenant_id=${encodeURIComponent(r.tenant_id)}` : ''}`;

/** A JSON editor dialog; `send` gets the parsed value and returns the API's answer. */
export function jsonDialog(title, value, submit, send) {
  const close = openDialog(
    title,
    form({
      fields: [
        field({
          label: 'Fields (JSON)',
          name: 'body',
          type: 'textarea',
          rows: 12,
          value: JSON.stringify(value, null, 2),
          json: true,
        }),
      ],
      submit,
      async onsubmit(v) {
        await send(parseJsonField(v.body, 'body'));
        close();
      },
    }),
  );
}

/**
 * A resource kind's page: the paged list, a create dialog with a JSON template, edit and delete per row, and any
 * actions of the kind. Every control a role may not use is left out.
 */
export function resourcePage(
  main,
  { title, singular, area, path, columns, template, intro, rowActions = () => [], secretField, after },
) {
  const slot = h('div', { class: 'secret-slot' });
  const editable = (r) =>
    Object.fromEntries(
      Object.entries(r).filter(([k]) => !['id', 'tenant_id', 'created_at', 'updated_at', 'version'].includes(k)),
    );
  const table = pagedTable({
    caption: title,
    path,
    empty: can(area, 'write')
      ? `No ${title.toLowerCase()} yet. Create one with “New ${singular}”.`
      : `No ${title.toLowerCase()} are visible to your token.`,
    filter: {
      label: `Filter ${title.toLowerCase()} on this page`,
      placeholder: 'any text',
      match: (r, t) => JSON.stringify(r).toLowerCase().includes(t),
    },
    rowKey: (r) => `${r.tenant_id ?? ''}/${r.id}`,
    columns: [
      ...columns,
      { label: 'Updated', cell: (r) => time(r.updated_at) },
      {
        label: 'Actions',
        cell: (r) =>
          h(
            'div',
            { class: 'row-actions' },
            rowActions(r, table, slot),
            writeButton(
              area,
              'Edit',
              () =>
                jsonDialog(`Edit ${singular} ${r.id}`, editable(r), 'Save', async (body) => {
                  await api('PUT', itemPath(path, r), body);
                  announce(`${singular} ${r.id} saved.`);
                  table.reload();
                }),
              { 'aria-label': `Edit ${r.id}` },
            ),
            writeButton(
              area,
              'Delete',
              async () => {
                if (!confirm(`Delete ${singular} ${r.id}?`)) return;
                try {
                  await api('DELETE', itemPath(path, r));
                  announce(`${singular} ${r.id} deleted.`);
                } catch (err) {
                  announce(`Could not delete ${r.id}: ${err.message}`, 'error');
                }
                table.reload();
              },
              { class: 'danger', 'aria-label': `Delete ${r.id}` },
            ),
          ),
      },
    ],
  });
  const create = () =>
    jsonDialog(`New ${singular}`, template, `Create ${singular}`, async (body) => {
      const made = await api('POST', path, body);
      announce(`${singular} ${made.id} created.`);
      if (secretField && made[secretField])
        slot.replaceChildren(secretOnce(`${secretField} of ${made.id}`, made[secretField]));
      table.reload();
    });
  add(
    main,
    header(title, writeButton(area, `New ${singular}`, create, { class: 'primary' })),
    intro ? h('p', { class: 'muted' }, intro) : null,
    slot,
    table,
    after ?? null,
  );
  return table;
}
