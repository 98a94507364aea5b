/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startConsoleRig, signIn, signInAsUser, type ConsoleRig } from './support/console-browser';
import { OWNER_TOKEN } from './support/gateway';

const PASSWORD = 'correct horse battery staple';
/** Where the console suites write their screenshots (the README links them). */
const SHOTS = join(__dirname, '..', 'docs', 'console');
const WRITE_BUTTONS = /^(New |Edit|Suspend|Reactivate|Revoke|Delete|Rotate|Roll back|Save|Send test|Create|Apply$)/;

// One database: the sign-in API is tested on both dialects by test/user-sessions.test.ts.
describe('console: email and password sign-in, and API errors beside JSON boxes (pglite)', () => {
  let rig: ConsoleRig;
  const api = (method: string, url: string, body?: unknown, token?: string) =>
    rig.t.api(method, `/v1/admin${url}`, body, token);
  const heading = (text: string, p: Page) => p.getByRole('heading', { level: 1, name: text }).waitFor();
  const nav = (label: string, p: Page) =>
    p.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: label }).click();

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    rig = await startConsoleRig('pglite');
    for (const id of ['acme', 'beta']) expect((await api('POST', '/tenants', { id, name: id })).status).toBe(201);
    for (const [email, role, tenant_id] of [
      ['ops@example.com', 'owner', null],
      ['viewer@example.com', 'viewer', 'acme'],
      ['gone@example.com', 'owner', null],
    ])
      expect((await api('POST', '/users', { email, name: email, role, tenant_id, password: PASSWORD })).status).toBe(
        201,
      );
  }, 180_000);
  afterAll(() => rig?.close());

  test('a wrong password is an error at the password field; the right one signs in as the user; sign-out ends the session', async () => {
    const { page, problems } = await rig.open();
    await heading('Sign in to Portico', page);
    const form = page.getByRole('form', { name: 'With email and password' });
    await form.getByLabel('Email').fill('ops@example.com');
    await form.getByLabel('Password').fill('not the password');
    await form.getByRole('button', { name: 'Sign in with email' }).click();
    const error = form.locator('[data-field="password"] .field-error');
    await error.waitFor();
    expect(await error.innerText()).toBe('The email or password is wrong');
    expect(await form.getByLabel('Password').getAttribute('aria-invalid')).toBe('true');

    await signInAsUser(page, 'ops@example.com', PASSWORD);
    await heading('Tenants', page);
    expect(await page.locator('.who').innerText()).toMatch(/ops@example\.com\s*owner/);
    expect(await page.getByRole('button', { name: 'New tenant' }).count()).toBe(1);
    // nothing kept beyond the page's memory
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie])).toEqual([
      0,
      0,
      '',
    ]);
    const sessions = () => rig.t.gateway.db.selectFrom('user_sessions').select('user_id').execute();
    expect(await sessions()).toHaveLength(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in to Portico', page);
    for (let i = 0; i < 50 && (await sessions()).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await sessions()).toHaveLength(0); // ended on the server, not only forgotten
    await page.context().close();
    expect(problems).toEqual([]);
  });

  test('a viewer user of a tenant sees its tenant only and no write buttons', async () => {
    const { page, problems } = await rig.open();
    await signInAsUser(page, 'viewer@example.com', PASSWORD);
    await heading('Tenants', page);
    expect(await page.locator('.who').innerText()).toContain('viewer · acme');
    await page.locator('tr[data-row="acme"]').waitFor();
    expect(await page.locator('tr[data-row="beta"]').count()).toBe(0);
    const sections = await page.getByRole('navigation', { name: 'Sections' }).getByRole('link').allInnerTexts();
    expect(sections).not.toContain('Import / Export');
    const writeButtons = () => page.getByRole('button', { name: WRITE_BUTTONS }).count();
    expect(await writeButtons()).toBe(0);
    for (const label of ['Routes', 'Budgets', 'Credentials', 'Webhooks']) {
      await nav(label, page);
      await heading(label, page);
      await page.locator('.loading').first().waitFor({ state: 'detached' });
      expect(await writeButtons()).toBe(0);
    }
    await page.context().close();
    expect(problems).toEqual([]);
  });

  test('a disabled user is signed out at its next call', async () => {
    const { page } = await rig.open();
    await signInAsUser(page, 'gone@example.com', PASSWORD);
    await heading('Tenants', page);
    const [user] = (await api('GET', '/users?limit=100')).body.data.filter(
      (u: { email: string }) => u.email === 'gone@example.com',
    );
    const body = { email: user.email, name: user.name, role: 'owner', enabled: false };
    expect((await api('PUT', `/users/${user.id}`, body)).status).toBe(200);
    await nav('Routes', page);
    await heading('Sign in to Portico', page);
    await page.getByText('no longer valid').waitFor();
    await page.context().close();
  });

  test('JSON boxes: an API error about a path inside the body is shown beside the box, caret on the key', async () => {
    const { page, problems } = await rig.open();
    await signIn(page, OWNER_TOKEN);
    await nav('Budgets', page);
    await heading('Budgets', page);
    await page.getByRole('button', { name: 'New budget' }).click();
    const dialog = page.getByRole('dialog', { name: 'New budget' });
    const box = dialog.getByLabel('Fields (JSON)');
    const budget = { tenant_id: 'acme', name: 'cap', period: 'MONTHLY', limit_usd: -5, alert_thresholds: [50, 500] };
    await box.fill(JSON.stringify(budget, null, 2));
    await dialog.getByRole('button', { name: 'Create budget' }).click();
    const error = dialog.locator('[data-field="body"] .field-error');
    await error.waitFor();
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    const text = await error.innerText();
    expect(text).toMatch(/limit_usd\s+\S/);
    expect(text).toMatch(/alert_thresholds\.1\s+\S/);
    expect(await dialog.locator('.form-error').isHidden()).toBe(true); // nothing left for the banner
    // focus is on the box, with the first named key selected
    const selection = await box.evaluate((el: HTMLTextAreaElement) => [
      document.activeElement === el,
      el.value.slice(el.selectionStart, el.selectionEnd),
    ]);
    expect(selection).toEqual([true, 'limit_usd']);
    await page.screenshot({ path: join(SHOTS, 'json-field-errors.png') });

    // fixing it clears the marks and creates the budget
    await box.fill(JSON.stringify({ ...budget, limit_usd: 5, alert_thresholds: [50] }, null, 2));
    await dialog.getByRole('button', { name: 'Create budget' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await api('GET', '/budgets')).body.data).toEqual([expect.objectContaining({ name: 'cap', limit_usd: 5 })]);
    await page.context().close();
    expect(problems).toEqual([]);
  });

  test('the import document box too: a problem inside the document is named beside it, nothing in the banner', async () => {
    const { page, problems } = await rig.open();
    await signIn(page, OWNER_TOKEN);
    await nav('Import / Export', page);
    await heading('Import / Export', page);
    const box = page.getByLabel('Configuration document (JSON)');
    await box.fill(JSON.stringify({ version: 1, tenants: [{ id: 'fine', name: 'Fine' }, { name: 'No id' }] }, null, 2));
    await page.getByRole('button', { name: 'Preview' }).click();
    const error = page.locator('[data-field="document"] .field-error');
    await error.waitFor();
    expect(await error.innerText()).toMatch(/^tenants\.1\.id\s+is required/);
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('form[aria-label="Import"] .form-error').isHidden()).toBe(true);
    expect(await page.getByRole('button', { name: 'Apply', exact: true }).isDisabled()).toBe(true);
    await page.context().close();
    expect(problems).toEqual([]);
  });
});
