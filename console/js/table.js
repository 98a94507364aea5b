import { api } from './api.js';
import { button, fill, h, spinner } from './dom.js';

/**
 * A paged list from a `{data, next_cursor}` endpoint: Previous/Next pages by cursor, an optional filter over the rows
 * shown, an empty state that says what to do, and the API's error in place of the rows when a load fails.
 */
export function pagedTable({ caption, path, params = () => ({}), columns, empty, filter, limit = 25, rowKey }) {
  const body = h('div', { class: 'table-wrap' });
  const pager = h('nav', { class: 'pager', 'aria-label': `${caption} pages` });
  const cursors = [undefined];
  let page = 0;
  let rows = [];
  let next = null;
  let filterText = '';

  const filterBox = filter
    ? h('input', {
        type: 'search',
        id: `filter-${caption.replace(/\W+/g, '-').toLowerCase()}`,
        placeholder: filter.placeholder ?? 'Filter',
        oninput: (e) => {
          filterText = e.target.value.trim().toLowerCase();
          draw();
        },
      })
    : null;

  async function load() {
    fill(body, spinner());
    const q = new URLSearchParams({ ...clean(params()), limit: String(limit) });
    if (cursors[page]) q.set('cursor', cursors[page]);
    try {
      const res = await api('GET', `${path}${path.includes('?') ? '&' : '?'}${q}`);
      rows = res.data ?? [];
      next = res.next_cursor ?? null;
      draw();
    } catch (err) {
      fill(body, h('p', { class: 'error', role: 'alert' }, `Could not load ${caption.toLowerCase()}: ${err.message}`));
      fill(pager);
    }
  }

  function draw() {
    const shown = filterText ? rows.filter((r) => filter.match(r, filterText)) : rows;
    if (!shown.length) {
      fill(body, h('div', { class: 'empty' }, rows.length ? 'Nothing on this page matches the filter.' : empty));
    } else {
      fill(
        body,
        h(
          'table',
          {},
          h('caption', { class: 'sr-only' }, caption),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              columns.map((c) => h('th', { scope: 'col' }, c.label)),
            ),
          ),
          h(
            'tbody',
            {},
            shown.map((row) =>
              h(
                'tr',
                { 'data-row': rowKey ? rowKey(row) : row.id },
                columns.map((c) => h('td', { 'data-label': c.label }, c.cell(row))),
              ),
            ),
          ),
        ),
      );
    }
    fill(
      pager,
      button('← Previous', () => go(page - 1), { disabled: page === 0 }),
      h('span', { class: 'muted' }, `Page ${page + 1}`),
      button('Next →', () => go(page + 1), { disabled: !next }),
    );
  }

  async function go(to) {
    if (to > page) cursors[to] = next;
    page = to;
    await load();
  }

  const el = h(
    'section',
    { class: 'list', 'aria-label': caption },
    filterBox
      ? h('div', { class: 'filter' }, h('label', { for: filterBox.id }, filter.label ?? 'Filter'), filterBox)
      : null,
    body,
    pager,
  );
  /** Reloads from the first page (after a change, or when the parameters changed). */
  el.reload = () => {
    cursors.length = 1;
    page = 0;
    return load();
  };
  load();
  return el;
}

const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== ''));
