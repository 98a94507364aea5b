import { api } from '../api.js';
import { announce, h } from '../dom.js';
import { badge, writeButton } from './common.js';
import { itemPath, jsonDialog, resourcePage } from './resource.js';

const action = (r, name) => itemPath('/credentials', r).replace(/(\?|$)/, `/${name}$1`);

export const credentialsPage = (main) =>
  resourcePage(main, {
    title: 'Credentials',
    singular: 'credential',
    area: 'credentials',
    path: '/credentials',
    intro: 'Provider keys, encrypted at rest: only their last four characters are ever shown.',
    template: { name: 'openai production', provider: 'openai', api_key: 'sk-…' },
    columns: [
      { label: 'ID', cell: (c) => h('code', {}, c.id) },
      { label: 'Name', cell: (c) => c.name },
      { label: 'Owner', cell: (c) => c.tenant_id ?? 'global' },
      { label: 'Provider', cell: (c) => c.provider },
      { label: 'Key', cell: (c) => h('code', {}, `…${c.key_last4 ?? '????'}`) },
      { label: 'Status', cell: (c) => badge(c.status) },
    ],
    rowActions: (c, table) => [
      writeButton('credentials', 'Rotate', () =>
        jsonDialog(`Rotate ${c.id}`, { api_key: '' }, 'Rotate', async (body) => {
          await api('POST', action(c, 'rotate'), body);
          announce(`Credential ${c.id} rotated.`);
          table.reload();
        }),
      ),
      c.status === 'ACTIVE'
        ? writeButton(
            'credentials',
            'Revoke',
            async () => {
              if (!confirm(`Revoke ${c.id}? Routes stop using it at once.`)) return;
              await api('POST', action(c, 'revoke')).then(
                () => announce(`Credential ${c.id} revoked.`),
                (err) => announce(err.message, 'error'),
              );
              table.reload();
            },
            { class: 'danger' },
          )
        : null,
    ],
  });
