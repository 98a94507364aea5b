import { api, can, me, query } from '../api.js';
import { add, announce, button, field, fill, h, spinner, time } from '../dom.js';
import { sideBySide } from '../diff.js';
import { form, parseJsonField } from '../forms.js';
import { pagedTable } from '../table.js';
import { badge, header, openDialog, writeButton } from './common.js';

/** What the server sets on a route: never sent back in a PUT. */
const COMPUTED = ['id', 'tenant_id', 'version', 'created_at', 'updated_at'];
const editable = (route) => Object.fromEntries(Object.entries(route).filter(([k]) => !COMPUTED.includes(k)));
const kindOf = (r) => (r.path_prefix ? 'HTTP' : 'LLM');
const link = (r) =>
  `#/routes/${encodeURIComponent(r.id)}${r.tenant_id ? `?tenant_id=${encodeURIComponent(r.tenant_id)}` : ''}`;

const TEMPLATES = {
  llm: { description: '', model_pattern: 'gpt-*', strategy: 'model-prefix', providers: [{ provider: 'openai' }] },
  http: { description: '', path_prefix: '/api', methods: [], backend_url: 'https://backend.example.com' },
};

/** Routes of both kinds: list, create. */
export function routesPage(main) {
  const table = pagedTable({
    caption: 'Routes',
    path: '/routes',
    empty: can('routes', 'write')
      ? 'No routes yet. Create one with “New route”.'
      : 'No routes are visible to your token.',
    filter: {
      label: 'Filter routes on this page',
      placeholder: 'id, tenant, model pattern or path',
      match: (r, t) =>
        [r.id, r.tenant_id ?? 'global', r.model_pattern ?? '', r.path_prefix ?? ''].some((s) =>
          s.toLowerCase().includes(t),
        ),
    },
    rowKey: (r) => `${r.tenant_id ?? ''}/${r.id}`,
    columns: [
      { label: 'ID', cell: (r) => h('a', { href: link(r) }, r.id) },
      { label: 'Owner', cell: (r) => r.tenant_id ?? h('span', { class: 'muted' }, 'global') },
      { label: 'Kind', cell: (r) => kindOf(r) },
      { label: 'Matches', cell: (r) => h('code', {}, r.model_pattern ?? r.path_prefix) },
      { label: 'Enabled', cell: (r) => badge(r.enabled ? 'ON' : 'OFF') },
      { label: 'Version', cell: (r) => `v${r.version}` },
      { label: 'Updated', cell: (r) => time(r.updated_at) },
    ],
  });

  function create() {
    const platform = !me().tenant_id;
    const close = openDialog(
      'New route',
      form({
        fields: [
          field({ label: 'ID', name: 'id', hint: 'Empty: the server makes one (rt_…).' }),
          platform ? field({ label: 'Tenant (empty: global)', name: 'tenant_id' }) : null,
          field({
            label: 'Kind',
            name: 'kind',
            options: [
              ['llm', 'LLM route (by model)'],
              ['http', 'HTTP route (by path)'],
            ],
            value: 'llm',
          }),
          field({
            label: 'Route configuration (JSON)',
            name: 'config',
            type: 'textarea',
            rows: 12,
            value: JSON.stringify(TEMPLATES.llm, null, 2),
            json: true,
          }),
        ],
        submit: 'Create route',
        async onsubmit(v) {
          const input = { ...parseJsonField(v.config, 'config') };
          if (v.id?.trim()) input.id = v.id.trim();
          if (v.tenant_id?.trim()) input.tenant_id = v.tenant_id.trim();
          const made = await api('POST', '/routes', input);
          close();
          announce(`Route ${made.id} created.`);
          location.hash = link(made);
        },
      }),
    );
    // switching the kind swaps in that kind's template while the text is still untouched
    const dialog = document.querySelector('dialog');
    const kind = dialog.querySelector('select[name=kind]');
    const text = dialog.querySelector('textarea[name=config]');
    kind.addEventListener('change', () => {
      if (Object.values(TEMPLATES).some((t) => JSON.stringify(t, null, 2) === text.value))
        text.value = JSON.stringify(TEMPLATES[kind.value], null, 2);
    });
  }

  add(main, header('Routes', writeButton('routes', 'New route', create, { class: 'primary' })), table);
}

/** One route: its configuration, an editor, the version history as side-by-side diffs, and rollback. */
export function routePage(main, { id, tenant }) {
  const owner = query({ tenant_id: tenant });
  const path = `/routes/${encodeURIComponent(id)}`;
  const current = h('div', {}, spinner());
  const history = h('div', {}, spinner());
  const compare = h('div', { class: 'compare', 'aria-live': 'polite' });
  let route;

  async function load() {
    try {
      route = await api('GET', `${path}${owner}`);
    } catch (err) {
      fill(current, h('p', { class: 'error', role: 'alert' }, `Could not load route ${id}: ${err.message}`));
      fill(history);
      return;
    }
    fill(
      current,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Owner'),
        h('dd', {}, route.tenant_id ?? 'global'),
        h('dt', {}, 'Kind'),
        h('dd', {}, kindOf(route)),
        h('dt', {}, 'Version'),
        h('dd', { 'data-version': route.version }, `v${route.version}`),
        h('dt', {}, 'Updated'),
        h('dd', {}, time(route.updated_at)),
      ),
      can('routes', 'write') ? editor() : h('pre', { class: 'json' }, JSON.stringify(editable(route), null, 2)),
    );
    await loadHistory();
  }

  function editor() {
    return form({
      title: 'Edit',
      fields: [
        field({
          label: 'Configuration (JSON)',
          name: 'config',
          type: 'textarea',
          rows: 16,
          value: JSON.stringify(editable(route), null, 2),
          hint: 'The whole route as PUT replaces it; saving makes a new version.',
          json: true,
        }),
      ],
      submit: 'Save new version',
      async onsubmit(v) {
        const saved = await api('PUT', `${path}${owner}`, parseJsonField(v.config, 'config'));
        announce(`Saved ${id} as version ${saved.version}.`);
        fill(compare);
        await load();
      },
    });
  }

  async function loadHistory() {
    let versions;
    try {
      versions = (await api('GET', `${path}/versions${owner}`)).data;
    } catch (err) {
      fill(history, h('p', { class: 'error', role: 'alert' }, `Could not load the versions: ${err.message}`));
      return;
    }
    fill(
      history,
      h(
        'table',
        { class: 'versions' },
        h('caption', { class: 'sr-only' }, 'Versions'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Version', 'By', 'When', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        h(
          'tbody',
          {},
          versions.map((ver) =>
            h(
              'tr',
              { 'data-version': ver.version },
              h(
                'td',
                {},
                `v${ver.version}`,
                ver.version === route.version ? h('span', { class: 'badge' }, 'current') : null,
              ),
              h('td', {}, ver.actor?.name ?? '—'),
              h('td', {}, time(ver.created_at)),
              h(
                'td',
                {},
                ver.version === route.version
                  ? null
                  : button(`Compare v${ver.version} with current`, () => showDiff(ver)),
              ),
            ),
          ),
        ),
      ),
      versions.length ? null : h('p', { class: 'empty' }, 'No versions recorded.'),
    );
  }

  function showDiff(ver) {
    fill(
      compare,
      h('h2', { tabindex: '-1' }, `v${ver.version} ↔ current v${route.version}`),
      sideBySide(
        `v${ver.version} (${ver.actor?.name ?? 'unknown'})`,
        ver.config,
        `v${route.version} (current)`,
        editable(route),
      ),
      writeButton('routes', `Roll back to v${ver.version}`, () => rollback(ver), { class: 'danger' }),
    );
    compare.querySelector('h2').focus();
  }

  async function rollback(ver) {
    if (!confirm(`Roll ${id} back to version ${ver.version}? This saves its content as a new version.`)) return;
    try {
      const saved = await api('POST', `${path}/rollback${owner}`, { version: ver.version });
      announce(`Rolled ${id} back to v${ver.version}: now version ${saved.version}.`);
      fill(compare);
      await load();
    } catch (err) {
      announce(`Rollback failed: ${err.message}`, 'error');
    }
  }

  add(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/routes' }, 'Routes'), ' / ', id),
    header(`Route ${id}`),
    h('section', { 'aria-label': 'Current configuration' }, current),
    h('section', { 'aria-label': 'Version history' }, h('h2', {}, 'Version history'), history, compare),
  );
  load();
}
