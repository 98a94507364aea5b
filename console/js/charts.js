import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const s = (tag, attrs = {}, ...children) => {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
};

/**
 * Horizontal bars as SVG, one per [label, value]: no chart library, and the same numbers as a table for screen
 * readers and for copying.
 */
export function barChart(title, rows, format = (v) => String(v)) {
  if (!rows.length)
    return h('div', { class: 'chart' }, h('h3', {}, title), h('p', { class: 'empty' }, 'No data for this range.'));
  const max = Math.max(...rows.map(([, v]) => v), 0) || 1;
  const rowHeight = 24;
  const labelWidth = 160;
  const width = 560;
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${rows.length * rowHeight + 4}`,
    role: 'img',
    'aria-label': title,
    class: 'bars',
  });
  rows.forEach(([label, value], i) => {
    const y = i * rowHeight + 2;
    const w = Math.max(1, ((width - labelWidth - 90) * value) / max);
    svg.append(
      s('text', { x: labelWidth - 6, y: y + 15, 'text-anchor': 'end', class: 'bar-label' }, String(label).slice(0, 24)),
      s(
        'rect',
        { x: labelWidth, y: y + 3, width: w, height: rowHeight - 8, rx: 3, class: 'bar-rect' },
        s('title', {}, `${label}: ${format(value)}`),
      ),
      s('text', { x: labelWidth + w + 6, y: y + 15, class: 'bar-value' }, format(value)),
    );
  });
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', {}, title),
    svg,
    h(
      'details',
      {},
      h('summary', {}, 'As a table'),
      h(
        'table',
        {},
        h(
          'tbody',
          {},
          rows.map(([label, value]) => h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, format(value)))),
        ),
      ),
    ),
  );
}
