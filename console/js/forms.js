import { fill, h } from './dom.js';

/** The values of a form's named controls (checkboxes as booleans). */
export function values(form) {
  const out = {};
  for (const el of form.querySelectorAll('input[name], select[name], textarea[name]')) {
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value;
  }
  return out;
}

/** Clears the errors a previous attempt left. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) fill(el).hidden = true;
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const banner = form.querySelector('.form-error');
  if (banner) fill(banner).hidden = true;
}

/**
 * Shows an API failure on a form: each detail next to the field it names (`metadata.team` lands on `metadata`); a
 * path inside a JSON body (`limits.0.amount`) lands beside the form's JSON box, named, with the caret on its key; the
 * rest goes in the form's banner. Focus goes to the first field in error so a keyboard user lands on it.
 */
export function showErrors(form, failure) {
  clearErrors(form);
  const unplaced = [];
  let first = null;
  for (const detail of failure.details ?? []) {
    const path = detail.path ?? '';
    const slot = slotFor(form, path) ?? (path ? jsonBoxOf(form) : null);
    if (!slot) {
      unplaced.push(path ? `${path}: ${detail.message}` : detail.message);
      continue;
    }
    slot.error.hidden = false;
    // a path inside the box may carry the box's name as a prefix (`document:tenants.0.id`), not worth repeating
    const inside = slot.json && path.startsWith(`${slot.name}:`) ? path.slice(slot.name.length + 1) : path;
    if (slot.json)
      slot.error.append(
        h('span', { class: 'error-path' }, inside ? h('code', {}, inside) : null, ` ${detail.message}`),
        ' ',
      );
    else slot.error.append(h('span', {}, detail.message), ' ');
    slot.control?.setAttribute('aria-invalid', 'true');
    if (!first && slot.json) caretToKey(slot.control, path);
    first ??= slot.control;
  }
  const banner = form.querySelector('.form-error');
  if (banner && (unplaced.length || !first)) {
    banner.hidden = false;
    fill(
      banner,
      h('strong', {}, failure.message),
      unplaced.length
        ? h(
            'ul',
            {},
            unplaced.map((u) => h('li', {}, u)),
          )
        : null,
    );
  }
  (first ?? banner)?.focus?.();
}

function slotFor(form, path) {
  const parts = path.split('.');
  for (let n = parts.length; n > 0; n--) {
    const name = parts.slice(0, n).join('.');
    const wrap = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (wrap)
      return { error: wrap.querySelector('.field-error'), control: wrap.querySelector('input, select, textarea') };
  }
  return null;
}

/** The form's JSON text box, which owns every path no other field of the form does. */
function jsonBoxOf(form) {
  const wrap = form.querySelector('[data-json-box]');
  if (!wrap) return null;
  const control = wrap.querySelector('textarea');
  return { error: wrap.querySelector('.field-error'), control, name: control.name, json: true };
}

/** Puts the caret on the key a path ends in (its last named part), so the user starts where the API pointed. */
function caretToKey(textarea, path) {
  const key = path
    .split(/[.:]/)
    .reverse()
    .find((part) => part && !/^\d+$/.test(part));
  const at = key ? textarea.value.indexOf(JSON.stringify(key)) : -1;
  if (at >= 0) textarea.setSelectionRange(at + 1, at + 1 + key.length);
}

/** A form with a banner for errors no field owns; `onsubmit` gets the values and may throw an ApiFailure. */
export function form({ title, fields, submit, onsubmit, extra }) {
  const banner = h('div', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
  const submitButton = h('button', { type: 'submit', class: 'primary' }, submit);
  const el = h(
    'form',
    { class: 'card form', novalidate: true, 'aria-label': title },
    title ? h('h2', {}, title) : null,
    banner,
    fields,
    h('div', { class: 'actions' }, submitButton, extra),
  );
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (submitButton.disabled) return;
    clearErrors(el);
    submitButton.disabled = true;
    submitButton.classList.add('busy');
    try {
      await onsubmit(values(el), el);
    } catch (err) {
      if (err && 'details' in err) showErrors(el, err);
      else showErrors(el, { message: String(err?.message ?? err), details: [] });
    } finally {
      submitButton.disabled = false;
      submitButton.classList.remove('busy');
    }
  });
  return el;
}

/** `key=value` lines to a metadata object, and back. */
export const parseMetadata = (text) =>
  Object.fromEntries(
    text
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, ''] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
      }),
  );
export const metadataText = (metadata) =>
  Object.entries(metadata ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');

/** Parses JSON typed into a field, as an ApiFailure-shaped error at that field when it is not JSON. */
export function parseJsonField(text, name) {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw { message: 'Not valid JSON', details: [{ path: name, message: `is not valid JSON: ${err.message}` }] };
  }
}
