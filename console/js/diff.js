import { h } from './dom.js';

/** JSON with sorted keys, two-space indented: equal values print the same lines, so a line diff is meaningful. */
export function prettyJson(value) {
  const sort = (v) =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort(v[k])]),
          )
        : v;
  return JSON.stringify(sort(value), null, 2) ?? 'null';
}

/** The lines of two texts aligned by their longest common subsequence: rows of [left, right, kind]. */
export function alignLines(a, b) {
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const rows = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) rows.push([a[i++], b[j++], 'same']);
    // removals before additions, so a changed line reads as one row below
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) rows.push([a[i++], null, 'removed']);
    else rows.push([null, b[j++], 'added']);
  }
  // a removal followed by an addition reads best as one changed line
  const merged = [];
  for (const row of rows) {
    const last = merged[merged.length - 1];
    if (row[2] === 'added' && last && last[2] === 'removed' && last[1] === null) {
      last[1] = row[1];
      last[2] = 'changed';
    } else merged.push([...row]);
  }
  return merged;
}

/** A side-by-side diff of two JSON values, each side titled; changed lines are marked by class and by a sign. */
export function sideBySide(leftTitle, left, rightTitle, right) {
  const rows = alignLines(prettyJson(left).split('\n'), prettyJson(right).split('\n'));
  const changed = rows.filter((r) => r[2] !== 'same').length;
  const sign = { same: ' ', added: '+', removed: '−', changed: '~' };
  return h(
    'div',
    { class: 'diff', 'data-changed-lines': changed },
    h('p', { class: 'muted' }, changed ? `${changed} line${changed === 1 ? '' : 's'} differ` : 'No differences'),
    h(
      'table',
      { class: 'diff-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, leftTitle), h('th', { scope: 'col' }, rightTitle))),
      h(
        'tbody',
        {},
        rows.map(([l, r, kind]) =>
          h(
            'tr',
            { class: `diff-${kind}` },
            h(
              'td',
              { class: 'old' },
              h(
                'code',
                {},
                l === null
                  ? ''
                  : `${kind === 'same' ? ' ' : sign[kind === 'added' ? 'same' : kind === 'changed' ? 'changed' : 'removed']} ${l}`,
              ),
            ),
            h(
              'td',
              { class: 'new' },
              h(
                'code',
                {},
                r === null
                  ? ''
                  : `${kind === 'same' ? ' ' : sign[kind === 'removed' ? 'same' : kind === 'changed' ? 'changed' : 'added']} ${r}`,
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
