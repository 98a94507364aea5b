import { api, can, me } from '../api.js';
import { add, announce, button, field, fill, h, spinner } from '../dom.js';
import { showErrors, clearErrors } from '../forms.js';
import { header, secretOnce } from './common.js';

const show = (v) => (v === undefined ? '∅' : JSON.stringify(v));

/** How many changed resources a preview draws at a time: a document of thousands stays quick to show. */
const CHANGES_PER_PAGE = 100;

/** One changed resource, field by field. */
const changeView = (c) =>
  h(
    'section',
    { class: `change op-${c.op}`, 'aria-label': `${c.op} ${c.kind} ${c.id}` },
    h(
      'h3',
      {},
      h('span', { class: `badge op-${c.op}` }, c.op),
      ` ${c.kind} `,
      h('code', {}, c.id),
      c.tenant_id ? ` (tenant ${c.tenant_id})` : '',
    ),
    c.changes.length
      ? h(
          'table',
          { class: 'field-diff' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Field'),
              h('th', { scope: 'col' }, 'Now'),
              h('th', { scope: 'col' }, 'After import'),
            ),
          ),
          h(
            'tbody',
            {},
            c.changes.map((f) =>
              h(
                'tr',
                {},
                h('td', {}, h('code', {}, f.path)),
                h('td', { class: 'old' }, f.sensitive ? '***' : show(f.before)),
                h('td', { class: 'new' }, f.sensitive ? '***' : show(f.after)),
              ),
            ),
          ),
        )
      : null,
  );

/**
 * A preview's changes, one table per resource changed, drawn a page at a time: the first hundred, then "Show more"
 * (drawing thousands at once would hold the page for seconds). The counts always cover the whole preview.
 */
function changesView(result) {
  const counts = `${result.created.length} to create, ${result.updated.length} to update, ${result.deleted.length} to delete, ${result.unchanged} unchanged`;
  const changes = result.changes ?? [];
  const list = h('div', { class: 'changes' });
  const more = h('div', { class: 'actions' });
  let drawn = 0;
  const drawMore = () => {
    const next = changes.slice(drawn, drawn + CHANGES_PER_PAGE).map(changeView);
    list.append(...next);
    drawn += next.length;
    const left = changes.length - drawn;
    fill(
      more,
      left > 0
        ? button(`Show ${Math.min(left, CHANGES_PER_PAGE)} more changes (${left} not shown)`, drawMore, {
            class: 'more',
          })
        : null,
    );
    // after "Show more" (the button is gone), keyboard focus continues at the first change it added
    if (drawn > next.length && next[0]) {
      next[0].setAttribute('tabindex', '-1');
      next[0].focus();
    }
  };
  drawMore();
  return h(
    'div',
    { class: 'preview' },
    h('p', { class: 'summary', 'data-summary': true }, counts),
    result.warnings.length
      ? h(
          'ul',
          { class: 'warnings' },
          result.warnings.map((w) => h('li', {}, w)),
        )
      : null,
    changes.length === 0
      ? h('p', { class: 'empty' }, 'Nothing would change: the gateway already holds this configuration.')
      : [list, more],
  );
}

/** Saves text as a file through a temporary link (the document came from an authenticated fetch, not a URL). */
function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Config export and import (seed 002): Preview shows the field-level diff, Apply commits exactly what was previewed. */
export function configPage(main) {
  const platform = !me().tenant_id;
  const exportScope = field({
    label: 'Tenant (empty: the whole gateway)',
    name: 'export_tenant',
    value: me().tenant_id ?? '',
  });
  const exportOut = h('div', { 'aria-live': 'polite' });
  const exportCard = h(
    'section',
    { class: 'card', 'aria-label': 'Export' },
    h('h2', {}, 'Export'),
    h('p', { class: 'muted' }, 'A JSON snapshot of the configuration; secrets are redacted as "***".'),
    platform ? exportScope : null,
    h(
      'div',
      { class: 'actions' },
      button(
        'Export',
        async () => {
          fill(exportOut, spinner('Exporting…'));
          const tenant = exportScope.querySelector('input').value.trim();
          try {
            const doc = await api('GET', `/config/export${tenant ? `?tenant_id=${encodeURIComponent(tenant)}` : ''}`);
            const text = JSON.stringify(doc, null, 2);
            download(`portico-config-${doc.exported_at.slice(0, 10)}.json`, text);
            fill(
              exportOut,
              h('p', {}, `Exported ${(text.length / 1024).toFixed(1)} KiB; the file was offered as a download.`),
            );
          } catch (err) {
            fill(exportOut, h('p', { class: 'error', role: 'alert' }, `Export failed: ${err.message}`));
          }
        },
        { class: 'primary' },
      ),
    ),
    exportOut,
  );

  // Import: the text, mode and scope previewed are kept; Apply sends those exact bytes with the preview's hash.
  let previewed = null;
  const fileInput = field({ label: 'Load a file', name: 'file', type: 'file' });
  const textInput = field({
    label: 'Configuration document (JSON)',
    name: 'document',
    type: 'textarea',
    rows: 12,
    placeholder: '{ "version": 1, "tenants": [ … ] }',
    json: true,
  });
  const mode = field({
    label: 'Mode',
    name: 'mode',
    options: [
      ['merge', 'merge: create and update, delete nothing'],
      ['replace', 'replace: also delete what the document lacks'],
    ],
    value: 'merge',
  });
  const scope = field({ label: 'Tenant scope (optional)', name: 'tenant_id' });
  const banner = h('div', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
  const previewOut = h('div', { 'aria-live': 'polite' });
  const applyButton = button('Apply', apply, { class: 'primary', disabled: true });
  const importForm = h(
    'form',
    { class: 'card form', 'aria-label': 'Import', novalidate: true },
    h('h2', {}, 'Import'),
    banner,
    fileInput,
    textInput,
    mode,
    platform ? scope : null,
  );
  const text = textInput.querySelector('textarea');
  const invalidate = () => {
    previewed = null;
    applyButton.disabled = true;
    fill(previewOut, h('p', { class: 'muted' }, 'Preview the document to see what it would change.'));
  };
  for (const el of importForm.querySelectorAll('textarea, select, input')) el.addEventListener('input', invalidate);
  fileInput.querySelector('input').setAttribute('accept', 'application/json,.json');
  fileInput.querySelector('input').addEventListener('change', async (e) => {
    const file = e.target.files?.[0];
    if (file) text.value = await file.text();
    invalidate();
  });

  const params = (v, extra) => {
    const q = new URLSearchParams({ mode: v.mode, ...extra });
    if (v.tenant_id) q.set('tenant_id', v.tenant_id);
    return q;
  };

  async function preview() {
    clearErrors(importForm);
    const v = {
      document: text.value,
      mode: importForm.querySelector('select[name=mode]').value,
      tenant_id: importForm.querySelector('input[name=tenant_id]')?.value.trim() ?? '',
    };
    try {
      JSON.parse(v.document);
    } catch (err) {
      return showErrors(importForm, {
        message: 'The document is not JSON',
        details: [{ path: 'document', message: `is not valid JSON: ${err.message}` }],
      });
    }
    fill(previewOut, spinner('Previewing…'));
    try {
      const result = await api('POST', `/config/import?${params(v, { dry_run: 'true' })}`, v.document);
      previewed = { ...v, hash: result.content_hash };
      fill(previewOut, h('h3', {}, `Preview (${v.mode})`), changesView(result));
      applyButton.disabled = false;
      applyButton.focus();
    } catch (err) {
      fill(previewOut);
      // the document's paths are prefixed, so its own `tenant_id` is not taken for this form's scope field; each
      // is listed beside the document box, with the caret on the first one's key
      showErrors(importForm, {
        ...err,
        details: (err.details ?? []).map((d) => ({ ...d, path: `document:${d.path}` })),
        message: err.message,
      });
    }
  }

  async function apply() {
    if (!previewed) return;
    fill(
      previewOut.querySelector('.apply-status') ?? previewOut.appendChild(h('div', { class: 'apply-status' })),
      spinner('Applying…'),
    );
    try {
      const result = await api(
        'POST',
        `/config/import?${params(previewed, { content_hash: previewed.hash })}`,
        previewed.document,
      );
      const secrets = result.generated_secrets.map((s) => secretOnce(`New ${s.field} of ${s.kind} ${s.id}`, s.value));
      fill(
        previewOut,
        h(
          'p',
          { class: 'notice', role: 'status', 'data-applied': true },
          `Applied: ${result.created.length} created, ${result.updated.length} updated, ${result.deleted.length} deleted. Audit event ${result.audit_event_id}.`,
        ),
        secrets,
      );
      announce('Import applied.');
      previewed = null;
      applyButton.disabled = true;
    } catch (err) {
      fill(
        previewOut.querySelector('.apply-status') ?? previewOut,
        h(
          'p',
          { class: 'error', role: 'alert' },
          err.code === 'CONFLICT' ? `${err.message}. Preview again.` : `Apply failed: ${err.message}`,
        ),
      );
      if (err.code === 'CONFLICT') {
        previewed = null;
        applyButton.disabled = true;
      }
    }
  }

  importForm.append(h('div', { class: 'actions' }, button('Preview', preview), applyButton));
  importForm.addEventListener('submit', (e) => e.preventDefault());
  invalidate();
  const importSide = can('config', 'write')
    ? h('div', {}, importForm, previewOut)
    : h(
        'section',
        { class: 'card' },
        h('h2', {}, 'Import'),
        h('p', { class: 'muted' }, 'Importing needs config write access (the owner role).'),
      );
  add(main, header('Import / Export'), h('div', { class: 'grid2' }, exportCard, importSide));
}
