/**
 * The dashboard end to end: real jobs in a real Redis, the dashboard's fetch handler behind node:http on a loopback
 * port, Debian's Chromium driving the pages (test/browser.ts). Each test has its own key prefix and dashboard. Routes
 * and test ids are those of docs/dashboard.md, "For tests".
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createDashboard } from '../dashboard/index.js';
import type { DashboardOptions } from '../dashboard/options.js';
import { createClient, createInspector, createWorker, defineJobs, type Worker } from '../src/index.js';
import { browserMissing, serveFetch, servePages, skipReason, useBrowser, type FetchHandler, type Served } from './browser.js';
import { cleanupRegistry, clearPrefix, redisUrl, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  sendEmail: {
    description: 'Sends one email.',
    payload: z.object({ to: z.string(), subject: z.string() }),
    queue: 'mail',
    attempts: 1,
  },
  renderHtml: {
    description: 'Renders user-supplied HTML (the payload is attacker-controlled).',
    payload: z.object({ html: z.string() }),
    queue: 'mail',
    attempts: 1,
  },
  chargeCard: {
    description: 'Charges a card for an order.',
    payload: z.object({ order: z.number().int() }),
    queue: 'billing',
    attempts: 1,
  },
  nightlyReport: {
    description: 'The nightly report.',
    payload: z.object({}),
    queue: 'reports',
    cron: '0 3 * * *',
  },
});

const defer = cleanupRegistry();
const browser = useBrowser();

/** A client on a fresh prefix (deleted after the test). */
function setup(name: string): { prefix: string; client: ReturnType<typeof createClient<typeof jobs>> } {
  const prefix = testPrefix(`dash-${name}`);
  const client = createClient(jobs, { redis: redisUrl(), prefix });
  defer(() => clearPrefix(prefix));
  defer(() => client.close());
  return { prefix, client };
}

/** A dashboard on `prefix` behind node:http; `pollMs` 0 unless a test asks (pages do not change under a click). */
async function dashboard(prefix: string, options: Partial<DashboardOptions> = {}, wrap?: (fetch: FetchHandler) => FetchHandler): Promise<Served> {
  const dash = createDashboard({ redis: redisUrl(), prefix, jobs, pollMs: 0, ...options });
  defer(() => dash.close());
  const handler: FetchHandler = (request) => dash.fetch(request);
  return serveFetch(wrap ? wrap(handler) : handler, defer);
}

/** A worker on `queues` in this process, closed after the test. */
function worker(prefix: string, queues: ('mail' | 'billing' | 'reports')[], handlers: Partial<Parameters<typeof createWorker<typeof jobs>>[1]>, name?: string): Worker {
  const w = createWorker(jobs, handlers as Parameters<typeof createWorker<typeof jobs>>[1], {
    redis: redisUrl(),
    prefix,
    queues,
    concurrency: 3,
    logger: false,
    heartbeatMs: 200,
    ...(name ? { name } : {}),
  });
  defer(() => w.close());
  return w;
}

/** Kills one job into the dead letters of `billing` (its handler throws; attempts 1) and returns its id. */
async function deadCharge(prefix: string, client: ReturnType<typeof setup>['client'], order: number, heal: { ok: boolean }): Promise<string> {
  const w = worker(prefix, ['billing'], {
    chargeCard: async ({ order: o }) => {
      if (!heal.ok) throw new Error(`card declined for order ${o}: insufficient funds`);
    },
  });
  await w.ready;
  const { id } = await client.enqueue('chargeCard', { order });
  await waitFor(async () => (await client.getJob(id)).state === 'dead', `${id} to die`);
  return id;
}

const describeBrowser = browserMissing === undefined ? describe : describe.skip;

describeBrowser('dashboard in Chromium', () => {
  it('overview: every queue with its real counts', async () => {
    const { prefix, client } = setup('overview');
    for (let i = 0; i < 3; i++) await client.enqueue('sendEmail', { to: `u${i}@example.com`, subject: 'hello' });
    await client.enqueue('sendEmail', { to: 'later@example.com', subject: 'later' }, { delay: '1h' });
    await deadCharge(prefix, client, 1, { ok: false });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/`);
    const mail = page.getByTestId('queue-row-mail');
    await expect.poll(() => mail.getByTestId('count-waiting').textContent()).toBe('3');
    expect(await mail.getByTestId('count-delayed').textContent()).toBe('1');
    const billing = page.getByTestId('queue-row-billing');
    expect(await billing.getByTestId('count-dead').textContent()).toBe('1');
    expect(await billing.getByTestId('count-waiting').textContent()).toBe('0');
  });

  it('queue page: jobs by state, filtered by job type, linking to the job page', async () => {
    const { prefix, client } = setup('queue');
    const email = await client.enqueue('sendEmail', { to: 'ada@example.com', subject: 'welcome' });
    const render = await client.enqueue('renderHtml', { html: '<p>plain</p>' });
    const delayed = await client.enqueue('sendEmail', { to: 'bob@example.com', subject: 'later' }, { delay: '1h' });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/queues/mail?state=waiting`);
    const rows = page.getByTestId('job-row');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await page.getByTestId('job-list').textContent()).toContain(email.id);
    expect(await page.getByTestId('job-list').textContent()).toContain(render.id);

    await page.goto(`${served.origin}/queues/mail?state=waiting&job=renderHtml`);
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain(render.id);

    await page.goto(`${served.origin}/queues/mail?state=delayed`);
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain(delayed.id);
    await rows.first().getByRole('link', { name: delayed.id }).click();
    await page.getByTestId('job-state').waitFor();
    expect(await page.getByTestId('job-state').textContent()).toContain('delayed');
    expect(await page.getByTestId('job-payload').textContent()).toContain('bob@example.com');
  });

  it('job page: a dead letter with its payload, attempts and error stack', async () => {
    const { prefix, client } = setup('job');
    const id = await deadCharge(prefix, client, 4711, { ok: false });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/jobs/${encodeURIComponent(id)}`);
    expect(await page.getByTestId('job-state').textContent()).toContain('dead');
    expect(await page.getByTestId('job-payload').textContent()).toContain('4711');
    const errors = await page.getByTestId('job-errors').textContent();
    expect(errors).toContain('card declined for order 4711: insufficient funds');
    expect(errors).toContain('dashboard-browser.test.ts'); // the stack
  });

  it('dead letters: retry one from the page and a worker runs it to completion', async () => {
    const { prefix, client } = setup('dead-retry');
    const heal = { ok: false };
    const id = await deadCharge(prefix, client, 7, heal);
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/dead`);
    const row = page.getByTestId('dead-row').filter({ hasText: id });
    expect(await row.textContent()).toContain('card declined for order 7');
    heal.ok = true;
    await row.getByTestId('dead-retry').click();
    await page.getByTestId('flash').waitFor();
    await waitFor(async () => (await client.getJob(id)).state === 'completed', `${id} to complete after its retry`);
    expect(await client.deadLetters.list('billing')).toEqual([]);
  });

  it('scheduled and cron: delayed jobs by due time, cron jobs with their next firing', async () => {
    const { prefix, client } = setup('scheduled');
    const soon = await client.enqueue('sendEmail', { to: 'soon@example.com', subject: 's' }, { delay: '10m' });
    const later = await client.enqueue('sendEmail', { to: 'later@example.com', subject: 'l' }, { delay: '3h' });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/scheduled`);
    const rows = page.getByTestId('scheduled-row');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain(soon.id);
    expect(await rows.nth(1).textContent()).toContain(later.id);
    const cron = page.getByTestId('cron-row').filter({ hasText: 'nightlyReport' });
    expect(await cron.textContent()).toContain('0 3 * * *');
    expect(await cron.getByTestId('cron-next').textContent()).not.toBe('');
  });

  it('workers: a live worker with its queues and concurrency', async () => {
    const { prefix } = setup('workers');
    const name = `browser-worker-${randomBytes(3).toString('hex')}`;
    const w = worker(prefix, ['billing'], { chargeCard: async () => {} }, name);
    await w.ready;
    const inspector = createInspector({ redis: redisUrl(), prefix });
    defer(() => inspector.close());
    await waitFor(async () => (await inspector.workers()).length === 1, 'the worker to register');
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/`);
    await page.getByTestId('nav-workers').click();
    const row = page.getByTestId('worker-row').filter({ hasText: name });
    await row.waitFor();
    expect(await row.textContent()).toContain('billing');
    expect(await row.getByTestId('worker-concurrency').textContent()).toBe('3');
  });

  it('job types: each declared job with its options and payload schema', async () => {
    const { prefix } = setup('types');
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/types`);
    const email = page.getByTestId('type-row').filter({ hasText: 'sendEmail' });
    const text = await email.textContent();
    expect(text).toContain('mail');
    expect(text).toContain('subject'); // a property of its JSON Schema
    expect(await page.getByTestId('type-row').count()).toBe(4);
  });

  it('pause and resume a queue with its button: Redis says paused, then not', async () => {
    const { prefix, client } = setup('pause');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/queues/mail`);
    await page.getByTestId('queue-pause').click();
    await page.getByTestId('flash').waitFor();
    expect(await client.isPaused('mail')).toBe(true);
    const inspector = createInspector({ redis: redisUrl(), prefix });
    defer(() => inspector.close());
    expect((await inspector.stats('mail')).paused).toBe(true);
    await page.getByTestId('queue-resume').click();
    await waitFor(async () => !(await client.isPaused('mail')), 'the queue to resume');
  });

  it('a payload holding <script> and <img onerror> shows as text and runs nothing', async () => {
    const { prefix, client } = setup('xss');
    const attack = '<script>window.__pwned = "script"; alert("xss")</script><img src=x onerror="window.__pwned = \'img\'; alert(1)"></script>';
    const { id } = await client.enqueue('renderHtml', { html: attack });
    const heal = { ok: false };
    // A dead letter whose error message is HTML too (errors are shown on the dead letters page).
    const w = worker(prefix, ['mail'], {
      renderHtml: async ({ html }) => {
        if (!heal.ok) throw new Error(`could not render ${html}`);
      },
    });
    await w.ready;
    await waitFor(async () => (await client.getJob(id)).state === 'dead', 'the job to die');
    await w.close();
    const served = await dashboard(prefix);
    const { page, record } = await browser.open();
    const pwned = (): Promise<unknown> => page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned);
    for (const path of [`/jobs/${encodeURIComponent(id)}`, '/dead', '/queues/mail?state=dead']) {
      await page.goto(`${served.origin}${path}`);
      await page.waitForLoadState('load');
      expect(await page.locator('body').textContent(), path).toContain('<script>window.__pwned');
      expect(await page.locator('img[src="x"]').count(), path).toBe(0);
      expect(await page.locator('main script:not([type="application/json"])').count(), path).toBe(0);
      expect(await pwned(), path).toBeUndefined();
    }
    expect(record.dialogs).toEqual([]);
  });

  it('read-only: no action buttons, and a POST from the page is refused with 403', async () => {
    const { prefix, client } = setup('read-only');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    // One dashboard, two roles: a viewer is read-only. The viewer gets the admin's valid CSRF cookie and token, so
    // only the read-only check stands between its POST and the action.
    const served = await dashboard(prefix, { authorize: (req) => (req.headers.get('x-role') === 'viewer' ? 'read-only' : 'full') });
    const admin = await browser.open();
    await admin.page.goto(`${served.origin}/queues/mail`);
    await admin.page.getByTestId('queue-pause').waitFor();
    const token = await admin.page.locator('input[name="_csrf"]').first().getAttribute('value');
    const cookies = await admin.context.cookies();
    expect(token).toBeTruthy();

    const viewer = await browser.open();
    await viewer.context.setExtraHTTPHeaders({ 'x-role': 'viewer' });
    await viewer.context.addCookies(cookies);
    viewer.record.allowError(/status of 403/);
    await viewer.page.goto(`${served.origin}/queues/mail`);
    await viewer.page.getByTestId('page-title').waitFor();
    expect(await viewer.page.getByTestId('queue-pause').count()).toBe(0);
    expect(await viewer.page.locator('form[method="post"]').count()).toBe(0);
    const status = await viewer.page.evaluate(async (csrf) => {
      const body = new URLSearchParams({ _csrf: csrf, action: 'pause', queue: 'mail', return: 'queues/mail' });
      return (await fetch('actions', { method: 'POST', body })).status;
    }, token as string);
    expect(status).toBe(403);
    expect(await client.isPaused('mail')).toBe(false);

    // The same POST as the admin goes through: the viewer's was refused for being read-only, nothing else.
    const adminStatus = await admin.page.evaluate(async (csrf) => {
      const body = new URLSearchParams({ _csrf: csrf, action: 'pause', queue: 'mail', return: 'queues/mail' });
      return (await fetch('actions', { method: 'POST', body, redirect: 'manual' })).type;
    }, token as string);
    expect(adminStatus).not.toBe('error');
    await waitFor(() => client.isPaused('mail'), 'the admin POST to pause the queue');
  });

  it('readOnly option: every page without buttons, POSTs answered 403', async () => {
    const { prefix, client } = setup('read-only-option');
    const id = await deadCharge(prefix, client, 9, { ok: false });
    const served = await dashboard(prefix, { readOnly: true });
    const { page, record } = await browser.open();
    record.allowError(/status of 403/);
    for (const path of ['/', '/queues/billing?state=dead', `/jobs/${encodeURIComponent(id)}`, '/dead', '/scheduled']) {
      await page.goto(`${served.origin}${path}`);
      await page.getByTestId('page-title').waitFor();
      expect(await page.locator('form[method="post"] button').count(), path).toBe(0);
    }
    const status = await page.evaluate(async (jobId) => {
      const body = new URLSearchParams({ action: 'dead-retry', id: jobId });
      return (await fetch('actions', { method: 'POST', body })).status;
    }, id);
    expect(status).toBe(403);
    expect((await client.getJob(id)).state).toBe('dead');
  });

  it('a cross-origin POST is refused even with a valid CSRF cookie and token', async () => {
    const { prefix, client } = setup('cross-origin');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    const served = await dashboard(prefix);
    const { page, record } = await browser.open();
    await page.goto(`${served.origin}/queues/mail`);
    const token = await page.locator('input[name="_csrf"]').first().getAttribute('value');
    expect(token).toBeTruthy();
    // Another origin on the same host (so the SameSite cookie goes along) posts a form with the leaked token.
    const attacker = await servePages(
      {
        '/': `<!doctype html><form id="f" method="post" action="${served.origin}/actions">
<input name="_csrf" value="${token}"><input name="action" value="pause"><input name="queue" value="mail"><input name="return" value="queues/mail">
</form><script>document.getElementById('f').submit()</script>`,
      },
      defer,
    );
    record.allowError(/status of 403/);
    const answered = page.waitForResponse((r) => r.url() === `${served.origin}/actions`);
    await page.goto(`${attacker.origin}/`);
    expect((await answered).status()).toBe(403);
    expect(await client.isPaused('mail')).toBe(false);

    // A fetch from the other origin (no-cors: the browser sends it, the page cannot read the answer) fails too.
    const refused = page.waitForResponse((r) => r.url() === `${served.origin}/actions`);
    await page.evaluate(
      async ({ url, csrf }) => {
        const body = new URLSearchParams({ _csrf: csrf, action: 'pause', queue: 'mail', return: 'queues/mail' });
        await fetch(url, { method: 'POST', body, mode: 'no-cors', credentials: 'include' });
      },
      { url: `${served.origin}/actions`, csrf: token as string },
    );
    expect((await refused).status()).toBe(403);
    expect(await client.isPaused('mail')).toBe(false);
  });

  it('works under a base path behind a proxy that adds a prefix of its own', async () => {
    const { prefix, client } = setup('base-path');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    // The app mounts the dashboard at /ops/jobs; a reverse proxy publishes the app under /edge and strips that.
    const served = await dashboard(prefix, { basePath: '/ops/jobs' }, (fetch) => async (request) => {
      const url = new URL(request.url);
      if (!url.pathname.startsWith('/edge/')) return new Response('not behind the proxy', { status: 404 });
      url.pathname = url.pathname.slice('/edge'.length);
      const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
      return fetch(new Request(url, { method: request.method, headers: request.headers, ...(body ? { body } : {}) }));
    });
    const { page } = await browser.open();
    const notFound: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 404) notFound.push(r.url());
    });
    await page.goto(`${served.origin}/edge/ops/jobs/`);
    for (const nav of ['nav-dead', 'nav-scheduled', 'nav-workers', 'nav-types', 'nav-overview']) {
      await page.getByTestId(nav).click();
      await page.getByTestId('page-title').waitFor();
      expect(new URL(page.url()).pathname, nav).toMatch(/^\/edge\/ops\/jobs\//);
    }
    await page.getByTestId('queue-row-mail').getByRole('link', { name: 'mail' }).click();
    await page.getByTestId('queue-pause').click();
    await waitFor(() => client.isPaused('mail'), 'the pause to go through the proxy');
    await page.getByTestId('flash').waitFor();
    expect(new URL(page.url()).pathname).toMatch(/^\/edge\/ops\/jobs\/queues\/mail/);
    expect(notFound).toEqual([]); // stylesheets, scripts and links all resolved under the prefix
  });

  it('polling: a count that changes in Redis shows without a reload', async () => {
    const { prefix, client } = setup('polling');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    const served = await dashboard(prefix, { pollMs: 2000 });
    const { page } = await browser.open();
    await page.goto(`${served.origin}/`);
    const waiting = page.getByTestId('queue-row-mail').getByTestId('count-waiting');
    await expect.poll(() => waiting.textContent()).toBe('1');
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    for (let i = 0; i < 4; i++) await client.enqueue('sendEmail', { to: `b${i}@example.com`, subject: 'y' });
    await expect.poll(() => waiting.textContent(), { timeout: 15_000, interval: 100 }).toBe('5');
    expect(navigations).toBe(0);
  });
});

describe.runIf(browserMissing !== undefined)('dashboard in Chromium (skipped)', () => {
  it('runs the browser tests', (ctx) => {
    ctx.skip(skipReason());
  });
});
