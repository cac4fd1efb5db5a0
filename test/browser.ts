/**
 * What the browser tests share: one Chromium per test file (Debian's, driven by playwright-core; see
 * scripts/chromium.ts), a fresh page per test whose console errors, page errors, CSP violations and dialogs are
 * collected (any error fails the test), and a node:http server in front of a fetch handler on a free loopback port.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../scripts/chromium.js';
import { serveFetch, type Served } from '../scripts/serve-fetch.js';

export { serveFetch, type FetchHandler, type Served } from '../scripts/serve-fetch.js';

/** Why the browser tests cannot run here (set by test/global-setup.ts), or undefined when they can. */
export const browserMissing: string | undefined = process.env.JOBCRAFT_BROWSER_MISSING;

/** The reason browser tests give when they skip themselves. */
export const skipReason = (): string => `needs Chromium: ${browserMissing ?? ''} (sudo apt-get install -y chromium)`;

/** What a page did that a test may look at. */
export interface PageRecord {
  /** Console errors, uncaught exceptions and CSP violations, in order. Any left unexpected fails the test. */
  readonly errors: string[];
  /** Every dialog (alert, confirm, prompt, beforeunload) as `type: message`; each is accepted. */
  readonly dialogs: string[];
  /** Lets errors matching `pattern` through (e.g. the browser's log line for an expected 403). */
  allowError(pattern: RegExp): void;
}

/** One test's page and what it recorded. */
export interface TestPage {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly record: PageRecord;
}

/** Reports CSP violations on the console as errors, whatever the page does with them. */
const CSP_LISTENER = `document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});`;

/**
 * Launches Chromium once for the calling test file (call at module level) and hands out a fresh context and page per
 * test. After each test the page's context is closed, and the test fails if the page logged a console error, threw,
 * or violated the Content Security Policy (unless let through with `allowError`).
 */
export function useBrowser(): { open(): Promise<TestPage> } {
  let browser: Browser | undefined;
  const open: { context: BrowserContext; errors: string[]; allowed: RegExp[] }[] = [];
  beforeAll(async () => {
    if (browserMissing !== undefined) return;
    browser = await chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS] });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    const problems: string[] = [];
    for (const { context, errors, allowed } of open.splice(0)) {
      await context.close();
      problems.push(...errors.filter((e) => !allowed.some((a) => a.test(e))));
    }
    if (problems.length > 0) throw new Error(`the page reported errors:\n  ${problems.join('\n  ')}`);
  });
  return {
    async open() {
      if (browser === undefined) throw new Error(`no browser: ${browserMissing ?? 'not launched'}`);
      const context = await browser.newContext();
      // Shorter than the test's own timeout, so a wait that fails names its step.
      context.setDefaultTimeout(10_000);
      await context.addInitScript({ content: CSP_LISTENER });
      const errors: string[] = [];
      const dialogs: string[] = [];
      const allowed: RegExp[] = [];
      open.push({ context, errors, allowed });
      const page = await context.newPage();
      page.on('console', (msg) => {
        // Every page declares its icon (data:), so not even the browser's own /favicon.ico request may fail.
        if (msg.type() === 'error') errors.push(`console: ${msg.text()} (${msg.location().url})`);
      });
      page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
      page.on('dialog', (dialog) => {
        dialogs.push(`${dialog.type()}: ${dialog.message()}`);
        void dialog.accept().catch(() => undefined);
      });
      return { page, context, record: { errors, dialogs, allowError: (p) => void allowed.push(p) } };
    },
  };
}

/** Serves fixed HTML pages by path (for a second origin that attacks the dashboard). */
export function servePages(pages: Readonly<Record<string, string>>, onCleanup?: (fn: () => Promise<void>) => void): Promise<Served> {
  return serveFetch((request) => {
    const html = pages[new URL(request.url).pathname];
    return html === undefined
      ? new Response('not found', { status: 404 })
      : new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
  }, onCleanup);
}
