/// <reference lib="dom" />
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startConsoleRig, signIn, type ConsoleRig } from './support/console-browser';
import { OWNER_TOKEN } from './support/gateway';

/** Where the suite writes the console's screenshots (the README links them); regenerated on every run. */
const SHOTS = join(__dirname, '..', 'docs', 'console');
const WRITE_BUTTONS =
  /^(New |Edit|Suspend|Reactivate|Revoke|Delete|Rotate|Roll back|Save|Send test|Create|Resolve|Apply$)/;

// The browser flow needs one database only: the API behind it is tested on both dialects by its own suites.
describe('web console in headless Chromium (pglite)', () => {
  let rig: ConsoleRig;
  let page: Page;
  let problems: string[];
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    rig = await startConsoleRig('pglite');
    ({ page, problems } = await rig.open());
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: rig.url });
  }, 180_000); // a loaded machine may take long to start a gateway and a browser
  afterAll(() => rig?.close());

  const api = (method: string, url: string, body?: unknown, token?: string) =>
    rig.t.api(method, `/v1/admin${url}`, body, token);
  const shot = (name: string, p = page) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const nav = (label: string, p = page) =>
    p.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: label }).click();
  const heading = (text: string, p = page) => p.getByRole('heading', { level: 1, name: text }).waitFor();

  test('sign in with the keyboard: the token field has focus, Enter signs in; a bad token is an error at the field', async () => {
    await heading('Sign in to Portico');
    expect(page.url()).toBe(`${rig.url}/console/`);
    await shot('signin');
    await page.keyboard.type('ptc_pat_not-a-real-token');
    await page.keyboard.press('Enter');
    const error = page.locator('[data-field="token"] .field-error');
    await error.waitFor();
    expect(await error.innerText()).toMatch(/not valid/);
    await page.getByLabel('Admin token').fill('');
    await page.keyboard.type(OWNER_TOKEN);
    await page.keyboard.press('Enter');
    await heading('Tenants');
    expect(await page.locator('.who').innerText()).toContain('owner');
    // the token is in the page's memory only: nothing in web storage or cookies
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie])).toEqual([
      0,
      0,
      '',
    ]);
  });

  test('tenants: create (an error lands at the field the API names), edit metadata, suspend and reactivate', async () => {
    await page.getByText('No tenants yet').waitFor(); // the empty state says what to do
    await page.getByRole('button', { name: 'New tenant' }).click();
    const dialog = page.getByRole('dialog', { name: 'New tenant' });
    await dialog.getByLabel('ID', { exact: true }).fill('Bad ID');
    await dialog.getByLabel('Name', { exact: true }).fill('Acme Corp');
    await dialog.getByRole('button', { name: 'Create tenant' }).click();
    const idError = dialog.locator('[data-field="id"] .field-error');
    await idError.waitFor();
    expect(await idError.innerText()).toMatch(/slug/);
    expect(await dialog.getByLabel('ID', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await dialog.getByLabel('ID', { exact: true }).fill('acme-corp');
    await dialog.getByLabel('Metadata').fill('team=platform');
    await dialog.getByRole('button', { name: 'Create tenant' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator('tr[data-row="acme-corp"]');
    await row.getByText('team=platform').waitFor();

    await row.getByRole('button', { name: 'Edit acme-corp' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit acme-corp' });
    await edit.getByLabel('Metadata').fill('team=payments\ntier=gold');
    await edit.getByRole('button', { name: 'Save' }).click();
    await row.getByText('team=payments, tier=gold').waitFor();
    expect((await api('GET', '/tenants/acme-corp')).body.metadata).toEqual({ team: 'payments', tier: 'gold' });

    await row.getByRole('button', { name: 'Suspend acme-corp' }).click();
    await row.getByText('SUSPENDED').waitFor();
    expect((await api('GET', '/tenants/acme-corp')).body.status).toBe('SUSPENDED');
    await row.getByRole('button', { name: 'Reactivate acme-corp' }).click();
    await row.getByText('ACTIVE', { exact: true }).waitFor();

    // times are the viewer's (Europe/Berlin here) with UTC on hover
    const created = row.locator('time');
    expect(await created.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    await page.getByLabel('Filter tenants on this page').fill('no-such-tenant');
    await page.getByText('Nothing on this page matches the filter.').waitFor();
    await page.getByLabel('Filter tenants on this page').fill('acme');
    await row.waitFor();
    await shot('tenants');
  });

  test('keys: the plaintext is shown once with a copy button, never again; revoke', async () => {
    await page.locator('tr[data-row="acme-corp"]').getByRole('link', { name: 'Keys' }).click();
    await heading('API keys of acme-corp');
    await page.getByRole('button', { name: 'New key' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API key' });
    await dialog.getByLabel('Name', { exact: true }).fill('production-key');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const secret = page.getByRole('region', { name: 'New key “production-key”' });
    const plaintext = await secret.locator('input').inputValue();
    expect(plaintext).toMatch(/^ptc_key_/);
    await secret.getByRole('button', { name: 'Copy' }).click();
    await secret.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(plaintext);
    const [key] = (await api('GET', '/tenants/acme-corp/keys')).body.data;
    expect(plaintext.startsWith(key.prefix)).toBe(true);
    await secret.getByRole('button', { name: 'Done' }).click();
    await secret.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(plaintext);
    await shot('keys');

    const row = page.locator(`tr[data-row="${key.id}"]`);
    await row.getByRole('button', { name: 'Revoke production-key' }).click();
    await row.getByText('REVOKED').waitFor();
    expect((await api('GET', `/tenants/acme-corp/keys/${key.id}`)).body.status).toBe('REVOKED');
    expect(await row.getByRole('button').count()).toBe(0); // nothing left to do with a revoked key
    expect(await page.content()).not.toContain(plaintext);
  });

  test('routes: create, edit twice, compare versions side by side, roll back through the diff view', async () => {
    await nav('Routes');
    await heading('Routes');
    await page.getByRole('button', { name: 'New route' }).click();
    const dialog = page.getByRole('dialog', { name: 'New route' });
    await dialog.getByLabel('ID', { exact: true }).fill('gpt-route');
    await dialog.getByRole('button', { name: 'Create route' }).click();
    await heading('Route gpt-route');
    await page.locator('dd[data-version="1"]').waitFor();

    const editor = page.getByLabel('Configuration (JSON)');
    for (const [description, version] of [
      ['first edit', 2],
      ['second edit', 3],
    ] as const) {
      const config = JSON.parse(await editor.inputValue());
      await editor.fill(JSON.stringify({ ...config, description }, null, 2));
      await page.getByRole('button', { name: 'Save new version' }).click();
      await page.locator(`dd[data-version="${version}"]`).waitFor();
    }
    // a bad edit names the field it is about, and saves nothing
    const config = JSON.parse(await editor.inputValue());
    await editor.fill(JSON.stringify({ ...config, timeout_ms: -1 }));
    await page.getByRole('button', { name: 'Save new version' }).click();
    await page.locator('[data-field="config"] .field-error').getByText('timeout_ms').waitFor();
    expect(await editor.getAttribute('aria-invalid')).toBe('true');
    expect((await api('GET', '/routes/gpt-route')).body.version).toBe(3);

    await page.getByRole('button', { name: 'Compare v2 with current' }).click();
    const diff = page.locator('.diff');
    await diff.waitFor();
    const changed = diff.locator('tr.diff-changed');
    expect(await changed.count()).toBe(1);
    expect(await changed.locator('td.old').innerText()).toContain('"first edit"');
    expect(await changed.locator('td.new').innerText()).toContain('"second edit"');
    await shot('route-diff');
    await page.getByRole('button', { name: 'Roll back to v2' }).click();
    await page.locator('dd[data-version="4"]').waitFor();
    const route = (await api('GET', '/routes/gpt-route')).body;
    expect(route).toMatchObject({ version: 4, description: 'first edit' });
    await page.locator('tr[data-version="4"]').waitFor(); // the history reloads after the facts
    expect(await page.locator('tr[data-version]').count()).toBe(4);
  });

  test('config: export downloads the document; preview shows the field-level diff, apply commits exactly it', async () => {
    await nav('Import / Export');
    await heading('Import / Export');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export', exact: true }).click(),
    ]);
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(exported.tenants.map((t: { id: string }) => t.id)).toEqual(['acme-corp']);

    const doc = { ...exported, tenants: [{ ...exported.tenants[0], name: 'Acme Imported' }] };
    const text = page.getByLabel('Configuration document (JSON)');
    const apply = page.getByRole('button', { name: 'Apply', exact: true });
    await text.fill(JSON.stringify(doc, null, 2));
    await page.getByRole('button', { name: 'Preview' }).click();
    const change = page.getByRole('region', { name: 'update tenant acme-corp' });
    await change.waitFor();
    const row = change.locator('tbody tr');
    expect(await row.count()).toBe(1);
    expect(await row.innerText()).toMatch(/name\s+"Acme Corp"\s+"Acme Imported"/);
    expect(await apply.isEnabled()).toBe(true);
    await shot('import-preview');

    // changing the document after the preview withdraws it: only a previewed document can be applied
    await text.fill(JSON.stringify({ ...doc, tenants: [{ ...doc.tenants[0], name: 'Acme Sneaky' }] }));
    expect(await apply.isDisabled()).toBe(true);
    await text.fill(JSON.stringify(doc, null, 2));
    await page.getByRole('button', { name: 'Preview' }).click();
    await change.waitFor();
    await apply.click();
    await page.locator('[data-applied]').waitFor();
    expect((await api('GET', '/tenants/acme-corp')).body.name).toBe('Acme Imported');
  });

  test('audit: every action above is there, with its actor and changes; filters; the chain verifies', async () => {
    await nav('Audit log');
    await heading('Audit log');
    await page.locator('[data-valid="true"]').waitFor();
    expect(await page.locator('.verify').innerText()).toMatch(/Chain verified: \d+ events/);
    // the list loads beside the badge: wait for its newest event before reading it
    await page.locator('code.event-type', { hasText: 'CONFIG_IMPORTED' }).first().waitFor();
    const types = await page.locator('code.event-type').allInnerTexts();
    for (const type of [
      'TENANT_CREATED',
      'TENANT_METADATA_UPDATED',
      'API_KEY_CREATED',
      'API_KEY_REVOKED',
      'ROUTE_CREATED',
      'ROUTE_UPDATED',
      'ROUTE_ROLLED_BACK',
      'CONFIG_IMPORTED',
    ])
      expect(types).toContain(type);
    // the page shows what the API holds, newest first
    const listed = (await api('GET', '/audit/events?limit=25')).body.data.map((e: { type: string }) => e.type);
    expect(types).toEqual(listed);
    expect(await page.locator('tbody').getByText('bootstrap owner token').first().isVisible()).toBe(true);
    await shot('audit');

    await page.getByLabel('Event type').fill('ROUTE_UPDATED');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForFunction(() => {
      const listed = Array.from(document.querySelectorAll('code.event-type'));
      return listed.length > 0 && listed.every((e) => e.textContent === 'ROUTE_UPDATED');
    });
    expect(await page.locator('code.event-type').count()).toBe(2);
    expect(await page.locator('ul.changes').first().innerText()).toMatch(/description: "first edit" → "second edit"/);
  });

  test('the other pages load without errors, and the console works in a narrow window', async () => {
    for (const [label, title] of [
      ['Budgets', 'Budgets'],
      ['Credentials', 'Credentials'],
      ['Pricing', 'Pricing'],
      ['Webhooks', 'Webhooks'],
      ['Usage', 'Usage and cost'],
      ['Request logs', 'Request logs'],
    ]) {
      await nav(label);
      await heading(title);
      await page.locator('.loading').first().waitFor({ state: 'detached' });
    }
    await shot('usage');
    const narrow = await rig.open(390, 844);
    await signIn(narrow.page, OWNER_TOKEN);
    await narrow.page.locator('tr[data-row="acme-corp"]').waitFor();
    const overflow = await narrow.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('tenants-narrow', narrow.page);
    await narrow.page.context().close();
    expect(narrow.problems).toEqual([]);
  });

  test('a viewer token sees no write buttons anywhere, and the API still refuses its writes', async () => {
    const made = await api('POST', '/tokens', { name: 'auditor', role: 'viewer', tenant_id: 'acme-corp' });
    const viewer = await rig.open();
    const p = viewer.page;
    await signIn(p, made.body.token);
    await heading('Tenants', p);
    expect(await p.locator('.who').innerText()).toContain('viewer · acme-corp');
    const sections = await p.getByRole('navigation', { name: 'Sections' }).getByRole('link').allInnerTexts();
    expect(sections).not.toContain('Import / Export'); // config: none for viewers
    expect(sections).toContain('Audit log');
    const writeButtons = () => p.getByRole('button', { name: WRITE_BUTTONS }).count();

    await p.locator('tr[data-row="acme-corp"]').waitFor();
    expect(await writeButtons()).toBe(0);
    await p.locator('tr[data-row="acme-corp"]').getByRole('link', { name: 'Keys' }).click();
    await p.locator('tbody tr').first().waitFor();
    expect(await writeButtons()).toBe(0);
    await nav('Routes', p);
    await p.locator('tr[data-row="/gpt-route"]').getByRole('link', { name: 'gpt-route' }).click();
    await heading('Route gpt-route', p);
    await p.getByRole('button', { name: 'Compare v1 with current' }).click();
    await p.locator('.diff').waitFor();
    expect(await writeButtons()).toBe(0);
    expect(await p.getByLabel('Configuration (JSON)').count()).toBe(0);
    for (const label of ['Budgets', 'Credentials', 'Pricing', 'Webhooks', 'Audit log']) {
      await nav(label, p);
      await p.locator('.loading').first().waitFor({ state: 'detached' });
      expect(await writeButtons()).toBe(0);
    }
    // hiding buttons is a courtesy: the API is the authority
    expect((await api('POST', '/tenants/acme-corp/keys', { name: 'x' }, made.body.token)).status).toBe(403);
    await viewer.page.context().close();
    expect(viewer.problems).toEqual([]);
  });

  test('signing out forgets the token; a reload signs out too (the token lives in memory only)', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in to Portico');
    await page.goto(`${rig.url}/console/#/audit`);
    await page.reload();
    await heading('Sign in to Portico');
    expect(problems).toEqual([]); // no script error and no CSP violation on the whole way
  });
});
