/// <reference lib="dom" />
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page, Route } from 'playwright-core';
import { startConsoleRig, signIn, type ConsoleRig } from './support/console-browser';
import { OWNER_TOKEN } from './support/gateway';

const SHOTS = join(__dirname, '..', 'docs', 'console');
const COUNT = 3000;

/** Holds the next request matching `pattern` at the browser until `release()`: a long operation, on demand. */
async function holdNext(page: Page, pattern: RegExp) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrived!: () => void;
  const held = new Promise<void>((resolve) => (arrived = resolve));
  await page.route(
    pattern,
    async (route: Route) => {
      arrived();
      await released;
      await route.continue();
    },
    { times: 1 },
  );
  return { held, release };
}

/** The longest task the page's main thread ran since the last call (ms), from a long-task observer. */
const longestTask = (page: Page) =>
  page.evaluate(() => {
    const w = window as unknown as { longest?: number };
    const longest = w.longest ?? 0;
    w.longest = 0;
    return longest;
  });

/** The page answers: a frame is drawn and a control takes typed text, within `ms`. */
async function responsive(page: Page, ms: number) {
  const start = Date.now();
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
  await page.getByLabel('Tenant scope (optional)').focus();
  expect(Date.now() - start).toBeLessThan(ms);
}

// Import of a large file and export: a spinner while the request runs, a page that stays responsive meanwhile and
// while the result is drawn (long tasks measured in the page). One database: the API is tested on both elsewhere.
describe('console: long operations show progress and never freeze the page (pglite)', () => {
  let rig: ConsoleRig;
  let page: Page;
  let problems: string[];
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    rig = await startConsoleRig('pglite');
    ({ page, problems } = await rig.open());
    await signIn(page, OWNER_TOKEN);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Import / Export' }).click();
    await page.getByRole('heading', { level: 1, name: 'Import / Export' }).waitFor();
    await page.evaluate(() => {
      const w = window as unknown as { longest: number };
      w.longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.longest = Math.max(w.longest, e.duration);
      }).observe({ type: 'longtask' });
    });
  }, 180_000);
  afterAll(() => rig?.close());

  test(`import of a file of ${COUNT} tenants: spinners while preview and apply run; the preview is paged`, async () => {
    const tenants = Array.from({ length: COUNT }, (_, i) => ({ id: `bulk-${i}`, name: `Bulk tenant ${i}` }));
    await page.getByLabel('Load a file').setInputFiles({
      name: 'large.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify({ version: 1, tenants }, null, 2)),
    });
    const text = page.getByLabel('Configuration document (JSON)');
    await page.waitForFunction(() => (document.querySelector('textarea[name=document]') as HTMLTextAreaElement).value);
    expect(JSON.parse(await text.inputValue()).tenants).toHaveLength(COUNT);

    const preview = await holdNext(page, /\/config\/import\?.*dry_run=true/);
    await longestTask(page);
    await page.getByRole('button', { name: 'Preview' }).click();
    await preview.held;
    await page.getByRole('status').filter({ hasText: 'Previewing…' }).waitFor();
    expect(await page.getByRole('button', { name: 'Preview' }).getAttribute('aria-busy')).toBe('true');
    await responsive(page, 1000);
    await page.screenshot({ path: join(SHOTS, 'import-large.png') });
    preview.release();
    const summary = page.locator('[data-summary]');
    await summary.waitFor();
    expect(await summary.innerText()).toBe(`${COUNT} to create, 0 to update, 0 to delete, 0 unchanged`);
    // drawn a page at a time: the first changes, and a way to the rest
    const sections = page.locator('section.change');
    const shown = await sections.count();
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(COUNT);
    const more = page.getByRole('button', { name: /^Show \d+ more changes/ });
    await more.click();
    await page.waitForFunction((n) => document.querySelectorAll('section.change').length > n, shown);
    expect(await longestTask(page)).toBeLessThan(1000);

    const apply = await holdNext(page, /\/config\/import\?.*content_hash=/);
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await apply.held;
    await page.getByRole('status').filter({ hasText: 'Applying…' }).waitFor();
    await responsive(page, 1000);
    apply.release();
    await page.locator('[data-applied]').waitFor({ timeout: 120_000 });
    expect(await page.locator('[data-applied]').innerText()).toContain(`Applied: ${COUNT} created`);
    expect(await longestTask(page)).toBeLessThan(1000);
    const listed = await rig.t.api('GET', '/v1/admin/tenants?limit=1');
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
  });

  test('export of the whole gateway: a spinner while it runs, then the download', async () => {
    const exporting = await holdNext(page, /\/config\/export/);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await exporting.held;
    await page.getByRole('status').filter({ hasText: 'Exporting…' }).waitFor();
    await responsive(page, 1000);
    exporting.release();
    const doc = JSON.parse(readFileSync((await (await download).path())!, 'utf8'));
    expect(doc.tenants).toHaveLength(COUNT);
    await page.getByText(/^Exported \d+\.\d KiB/).waitFor();
    expect(await longestTask(page)).toBeLessThan(1000);
    expect(problems).toEqual([]);
  });
});
