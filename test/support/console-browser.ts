import { chromium, type Browser, type Page } from 'playwright-core';
import { existsSync } from 'node:fs';
import { startTestGateway, type TestGateway } from './gateway';
import type { TestDialect } from './databases';

/** Debian's Chromium, which `.ci/run` installs when it is missing. */
export const CHROMIUM = process.env.PORTICO_CHROMIUM ?? '/usr/bin/chromium';

export interface ConsoleRig {
  t: TestGateway;
  /** The admin port's base URL on loopback. */
  url: string;
  browser: Browser;
  /** A new page at the console, collecting the page's errors and CSP violations into `problems`. */
  open(width?: number, height?: number): Promise<{ page: Page; problems: string[] }>;
  close(): Promise<void>;
}

/** A gateway whose admin app listens on a loopback port, and a headless Chromium to drive its console. */
export async function startConsoleRig(dialect: TestDialect): Promise<ConsoleRig> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package`);
  const t = await startTestGateway(dialect);
  const url = await t.admin.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  return {
    t,
    url,
    browser,
    async open(width = 1280, height = 800) {
      const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'Europe/Berlin' });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        // the API's own 4xx answers are logged by Chromium as failed loads: those are expected in error paths
        if (msg.type() === 'error' && !/status of 4\d\d/.test(msg.text())) problems.push(`console: ${msg.text()}`);
      });
      page.on('dialog', (dialog) => dialog.accept());
      await page.goto(`${url}/`);
      return { page, problems };
    },
    async close() {
      await browser.close();
      await t.close();
    },
  };
}

/** Signs in through the form with a token. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Signs in through the email and password form. */
export async function signInAsUser(page: Page, email: string, password: string): Promise<void> {
  const form = page.getByRole('form', { name: 'With email and password' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in with email' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
