import { can } from '../api.js';
import { button, fill, h } from '../dom.js';

/** A page's heading (focused on arrival) and its actions. */
export const header = (title, ...actions) =>
  h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, title), h('div', { class: 'actions' }, actions));

/** A button shown only to a role that may write the area (the API still refuses anyone else with a 403). */
export const writeButton = (area, label, onclick, attrs = {}) =>
  can(area, 'write') ? button(label, onclick, attrs) : null;

/**
 * A modal dialog (the browser's <dialog>: focus moves into it, Escape closes it, focus returns to what opened it).
 * Returns a function that closes it.
 */
export function openDialog(title, content) {
  const opener = document.activeElement;
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-label': title },
    h(
      'div',
      { class: 'dialog-head' },
      h('h2', {}, title),
      h('button', { type: 'button', class: 'link', 'aria-label': 'Close', onclick: () => dialog.close() }, '✕'),
    ),
    content,
  );
  dialog.addEventListener('close', () => {
    dialog.remove();
    opener?.focus?.();
  });
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector('input, select, textarea, button:not(.link)')?.focus();
  return () => dialog.close();
}

/** A status word as a coloured badge (colour is never the only signal: the word is there). */
export const badge = (text) => h('span', { class: `badge status-${String(text).toLowerCase()}` }, text);

/** JSON shown folded: a summary line, the full value on demand. */
export const jsonDetails = (summary, value) =>
  h('details', {}, h('summary', {}, summary), h('pre', { class: 'json' }, JSON.stringify(value, null, 2)));

/** The panel a secret appears in once: a read-only field, a copy button, and the warning that it will not be shown again. */
export function secretOnce(label, secret, onDone) {
  const input = h('input', {
    type: 'text',
    readonly: true,
    value: secret,
    id: 'secret-once',
    class: 'mono',
    'aria-describedby': 'secret-warning',
  });
  const copied = h('span', { class: 'muted', role: 'status' });
  const panel = h(
    'div',
    { class: 'card secret-once', role: 'region', 'aria-label': label },
    h('h2', {}, label),
    h(
      'p',
      { id: 'secret-warning', class: 'notice' },
      'Copy it now: it is shown this once and cannot be retrieved later.',
    ),
    h('div', { class: 'row' }, h('label', { for: 'secret-once', class: 'sr-only' }, label), input),
    h(
      'div',
      { class: 'actions' },
      button(
        'Copy',
        async () => {
          input.select();
          try {
            await navigator.clipboard.writeText(secret);
          } catch {
            document.execCommand('copy'); // older browsers, or a page the clipboard API refuses
          }
          fill(copied, 'Copied to the clipboard.');
        },
        { class: 'primary' },
      ),
      button('Done', () => {
        panel.remove();
        onDone?.();
      }),
      copied,
    ),
  );
  return panel;
}
