// A tiny view layer: elements are built with h() from data, never from HTML strings, so nothing the API returns
// can become markup (no HTML parsing anywhere) and the strict CSP holds (no inline script or style).

/** An element: h('button', { class: 'primary', onclick }, 'Save'). Attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (name === 'value') el.value = value;
    else if (name === 'checked') el.checked = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children to an element, skipping null, undefined and false (which DOM append would print). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
/** A unique id for label/control pairs. */
export const uid = (base) => `${base}-${++ids}`;

/**
 * A time in the viewer's time zone, with the UTC time on hover (and for screen readers, the machine value).
 */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const local = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  return h(
    'time',
    { datetime: d.toISOString(), title: `${d.toISOString().replace('T', ' ').slice(0, 19)} UTC` },
    local,
  );
}

/** A short message in the live region (announced by screen readers), cleared after a while. */
let statusTimer;
export function announce(message, kind = 'info') {
  const el = document.getElementById('status');
  fill(el, h('span', { class: `toast ${kind}` }, message));
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => fill(el), 6000);
}

/**
 * A labelled control: every input of the console goes through here, so none lacks a label. A `json` text box holds a
 * whole JSON body: the API's errors about any path inside it are shown beside it (see forms.js showErrors).
 */
export function field({
  label,
  name,
  type = 'text',
  value,
  required,
  options,
  hint,
  rows,
  placeholder,
  autocomplete,
  json,
}) {
  const id = uid(name);
  let control;
  if (options) {
    control = h(
      'select',
      { id, name },
      options.map((o) => {
        const [v, text] = Array.isArray(o) ? o : [o, o];
        return h('option', { value: v, selected: String(v) === String(value ?? '') }, text);
      }),
    );
  } else if (type === 'textarea') {
    control = h('textarea', { id, name, rows: rows ?? 8, required, placeholder, spellcheck: 'false' });
    control.value = value ?? '';
  } else if (type === 'checkbox') {
    control = h('input', { id, name, type, checked: value });
  } else {
    control = h('input', { id, name, type, value: value ?? '', required, placeholder, autocomplete });
  }
  const error = h('p', { class: 'field-error', id: `${id}-error`, 'data-error-for': name, hidden: true });
  control.setAttribute('aria-describedby', `${id}-error`);
  return h(
    'div',
    { class: `field ${type === 'checkbox' ? 'check' : ''}`, 'data-field': name, 'data-json-box': json ? '' : null },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint' }, hint) : null,
    error,
  );
}

/**
 * A button that shows a spinner while its handler runs and ignores clicks meanwhile, so a slow call never freezes the
 * page or runs twice. `disabled` stays the caller's to set.
 */
export function button(label, onclick, attrs = {}) {
  const el = h('button', { type: 'button', ...attrs }, label);
  let running = false;
  el.addEventListener('click', async (event) => {
    if (running || el.disabled) return;
    running = true;
    el.classList.add('busy');
    el.setAttribute('aria-busy', 'true');
    try {
      await onclick(event);
    } finally {
      running = false;
      el.classList.remove('busy');
      el.removeAttribute('aria-busy');
    }
  });
  return el;
}

/** A spinner with a text for screen readers. */
export const spinner = (text = 'Loading…') =>
  h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spin' }), text);
