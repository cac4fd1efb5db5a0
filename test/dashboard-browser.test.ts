/**
 * The dashboard end to end: real jobs in a real Redis, the dashboard's fetch handler behind node:http on a loopback
 * port, Debian's Chromium driving the pages (test/browser.ts). Each test has its own key prefix and dashboard. Routes
 * and test ids are those of docs/dashboard.md, "For tests".
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createDashboard, PAYLOAD_SHOWN_BYTES, type DashboardOptions } from '../dashboard/index.js';
import { createClient, createInspector, createWorker, defineJobs, payloadVersion, type Worker } from '../src/index.js';
import { browserMissing, serveFetch, servePages, skipReason, useBrowser, type FetchHandler, type Served, type TestPage } from './browser.js';
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

/** The CSRF token a page carries (`<meta name="jobcraft-csrf">`). */
async function csrfOf(page: TestPage['page']): Promise<string> {
  const token = await page.locator('meta[name="jobcraft-csrf"]').getAttribute('content');
  if (!token) throw new Error('the page carries no CSRF token');
  return token;
}

describeBrowser('dashboard in Chromium', () => {
  it('overview: every queue with its real counts', async () => {
    const { prefix, client } = setup('overview');
    for (let i = 0; i < 3; i++) await client.enqueue('sendEmail', { to: `u${i}@example.com`, subject: 'hello' });
    await client.enqueue('sendEmail', { to: 'later@example.com', subject: 'later' }, { delay: '1h' });
    await deadCharge(prefix, client, 1, { ok: false });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/`);
    const mail = page.locator('[data-testid="queue-row"][data-queue="mail"]');
    expect(await mail.getByTestId('count-waiting').textContent()).toBe('3');
    expect(await mail.getByTestId('count-delayed').textContent()).toBe('1');
    expect(await mail.getByTestId('count-dead').textContent()).toBe('0');
    const billing = page.locator('[data-testid="queue-row"][data-queue="billing"]');
    expect((await billing.getByTestId('count-dead').textContent())?.trim()).toBe('1');
    expect(await billing.getByTestId('count-waiting').textContent()).toBe('0');
    expect(await page.getByTestId('redis-version').textContent()).toMatch(/^\d+\.\d+/);
    // The chart is drawn by the page's script (uPlot) from the JSON data block: the script ran under the CSP.
    await page.getByTestId('history-chart').locator('.uplot canvas').first().waitFor();
    for (const range of ['range-day', 'range-week'] as const) {
      await page.getByTestId(range).click();
      await page.waitForURL(new RegExp(`range=${range.slice('range-'.length)}`));
      await page.getByTestId('history-chart').locator('.uplot canvas').first().waitFor();
    }
  });

  it('queue page: jobs by state, filtered by job type, linking to the job page', async () => {
    const { prefix, client } = setup('queue');
    const email = await client.enqueue('sendEmail', { to: 'ada@example.com', subject: 'welcome' });
    const render = await client.enqueue('renderHtml', { html: '<p>plain</p>' });
    const delayed = await client.enqueue('sendEmail', { to: 'bob@example.com', subject: 'later' }, { delay: '1h' });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    const ids = (): Promise<(string | null)[]> => page.getByTestId('job-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id')));
    await page.goto(`${served.origin}/queues/mail`);
    expect(await page.getByTestId('state-count-waiting').textContent()).toBe('2');
    expect(await page.getByTestId('state-count-delayed').textContent()).toBe('1');
    await page.getByTestId('state-waiting').click();
    await page.getByTestId('jobs-table').waitFor();
    expect(await ids()).toEqual([email.id, render.id]);

    await page.getByTestId('job-filter').selectOption('renderHtml');
    await page.getByTestId('apply-filter').click();
    await page.waitForURL(/job=renderHtml/);
    expect(await ids()).toEqual([render.id]);

    await page.getByTestId('job-filter').selectOption('');
    await page.getByTestId('apply-filter').click();
    await page.waitForURL((url) => !url.searchParams.get('job'));
    expect(await ids()).toEqual([email.id, render.id]);
    await page.getByTestId('state-delayed').click();
    await page.waitForURL(/state=delayed/);
    expect(await ids()).toEqual([delayed.id]);
    await page.getByTestId('job-link').click();
    await page.getByTestId('job-facts').waitFor();
    expect(await page.getByTestId('job-id').textContent()).toBe(delayed.id);
    expect(await page.getByTestId('job-state').textContent()).toBe('delayed');
    expect(await page.getByTestId('payload').textContent()).toContain('bob@example.com');
  });

  it('job page: a dead letter with its payload, attempts and error stack', async () => {
    const { prefix, client } = setup('job');
    const id = await deadCharge(prefix, client, 4711, { ok: false });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/jobs/${encodeURIComponent(id)}`);
    expect(await page.getByTestId('job-state').textContent()).toBe('dead');
    expect(await page.getByTestId('job-name').textContent()).toBe('chargeCard');
    expect(await page.getByTestId('job-attempts').textContent()).toBe('1 of 1');
    expect(await page.getByTestId('payload').textContent()).toContain('4711');
    expect(await page.getByTestId('error-message').textContent()).toContain('card declined for order 4711: insufficient funds');
    expect(await page.getByTestId('error-stack').textContent()).toContain('dashboard-browser.test.ts'); // where it was thrown
    expect(await page.getByTestId('timeline').textContent()).toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it('job page actions: cancel a delayed job after the confirm dialog, promote another and see it run', async () => {
    const { prefix, client } = setup('job-actions');
    const cancelled = await client.enqueue('sendEmail', { to: 'c@example.com', subject: 'c' }, { delay: '2h' });
    const promoted = await client.enqueue('sendEmail', { to: 'p@example.com', subject: 'p' }, { delay: '2h' });
    const served = await dashboard(prefix);
    const { page, record } = await browser.open();
    await page.goto(`${served.origin}/jobs/${encodeURIComponent(cancelled.id)}`);
    await page.getByTestId('job-cancel').click();
    expect(await page.getByTestId('done-count').textContent()).toBe('1');
    expect(record.dialogs).toEqual(['confirm: Are you sure?']); // asked first (and accepted by the test page)
    const inspector = createInspector({ redis: redisUrl(), prefix });
    defer(() => inspector.close());
    expect(await inspector.stats('mail')).toMatchObject({ delayed: 1 });

    const ran: string[] = [];
    const w = worker(prefix, ['mail'], { sendEmail: async (_p, ctx) => void ran.push(ctx.id), renderHtml: async () => {} });
    await w.ready;
    await page.goto(`${served.origin}/jobs/${encodeURIComponent(promoted.id)}`);
    await page.getByTestId('job-promote').click();
    expect(await page.getByTestId('done-count').textContent()).toBe('1');
    await waitFor(async () => (await client.getJob(promoted.id)).state === 'completed', `${promoted.id} to run once promoted`);
    expect(ran).toEqual([promoted.id]);
    expect(record.dialogs).toEqual(['confirm: Are you sure?']); // promote asks nothing
  });

  it('dead letters: retry one from the page and a worker runs it to completion', async () => {
    const { prefix, client } = setup('dead-retry');
    const heal = { ok: false };
    const id = await deadCharge(prefix, client, 7, heal);
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/`);
    await page.getByTestId('nav-dead').click();
    const row = page.locator(`[data-testid="job-row"][data-job-id="${id}"]`);
    expect(await row.textContent()).toContain('card declined for order 7');
    expect(await row.textContent()).toContain('attempts_exhausted');
    heal.ok = true;
    await row.getByTestId('select-job').check();
    await page.getByTestId('selected-dead-retry').click();
    expect(await page.getByTestId('done-count').textContent()).toBe('1');
    await waitFor(async () => (await client.getJob(id)).state === 'completed', `${id} to complete after its retry`);
    expect(await client.deadLetters.list('billing')).toEqual([]);
  });

  it('scheduled and cron: delayed jobs by due time, cron jobs with their next firing, trigger now', async () => {
    const { prefix, client } = setup('scheduled');
    const later = await client.enqueue('sendEmail', { to: 'later@example.com', subject: 'l' }, { delay: '3h' });
    const soon = await client.enqueue('sendEmail', { to: 'soon@example.com', subject: 's' }, { delay: '10m' });
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/scheduled?queue=mail`);
    const ids = await page.getByTestId('job-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id')));
    expect(ids).toEqual([soon.id, later.id]);
    const cron = page.locator('[data-testid="cron-row"][data-job="nightlyReport"]');
    expect(await cron.textContent()).toContain('0 3 * * *');
    const next = await cron.locator('time').last().getAttribute('datetime');
    expect(new Date(next ?? '').getUTCHours()).toBe(3);
    await cron.getByTestId('cron-trigger').click();
    await page.getByTestId('action-summary').waitFor();
    const inspector = createInspector({ redis: redisUrl(), prefix });
    defer(() => inspector.close());
    expect((await inspector.stats('reports')).waiting).toBe(1);
  });

  it('workers: a live worker with its queues, running jobs and concurrency', async () => {
    const { prefix, client } = setup('workers');
    const name = `browser-worker-${randomBytes(3).toString('hex')}`;
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    defer(() => release());
    const w = worker(prefix, ['billing'], { chargeCard: () => held }, name);
    await w.ready;
    const { id } = await client.enqueue('chargeCard', { order: 1 });
    const inspector = createInspector({ redis: redisUrl(), prefix });
    defer(() => inspector.close());
    await waitFor(async () => (await inspector.workers())[0]?.running.length === 1, 'the worker to report its running job');
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/`);
    await page.getByTestId('nav-workers').click();
    const row = page.getByTestId('worker-row').filter({ hasText: name });
    expect(await row.textContent()).toContain('billing');
    expect(await row.getByTestId('worker-running').textContent()).toMatch(new RegExp(`^1/3${id.replace(/[#]/g, '\\#')}`));
    await row.getByRole('link', { name: id }).click();
    expect(await page.getByTestId('job-state').textContent()).toBe('active');
  });

  it('job types: each declared job with its options and payload schema', async () => {
    const { prefix } = setup('types');
    const served = await dashboard(prefix);
    const { page } = await browser.open();
    await page.goto(`${served.origin}/types`);
    expect(await page.getByTestId('job-type').evaluateAll((els) => els.map((e) => e.getAttribute('data-job')).sort())).toEqual(['chargeCard', 'nightlyReport', 'renderHtml', 'sendEmail']);
    const email = page.locator('[data-testid="job-type"][data-job="sendEmail"]');
    expect(await email.getByTestId('job-type-options').textContent()).toContain('"mail"');
    const schema = JSON.parse((await email.getByTestId('job-type-schema').textContent()) ?? '') as { properties?: Record<string, unknown> };
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(['subject', 'to']);
  });

  it('job types: a job\'s versions with each earlier JSON Schema; a read-only user runs the live check and sees what would fail', async () => {
    const v1 = z.object({ to: z.string() });
    const versioned = defineJobs({ sendEmail: { payload: z.object({ to: z.array(z.email()), subject: z.string() }), queue: 'mail', versions: [payloadVersion(v1, (p) => ({ to: [p.to], subject: '(none)' }))] } });
    const { prefix } = setup('types-versions');
    // Stored by the code before: one address each, one of them not an address.
    const old = createClient(defineJobs({ sendEmail: { payload: v1, queue: 'mail' } }), { redis: redisUrl(), prefix });
    defer(() => old.close());
    for (const to of ['a@example.com', 'b@example.com', '<b>not an address</b>']) await old.enqueue('sendEmail', { to });
    const served = await dashboard(prefix, { jobs: versioned, readOnly: true });
    const { page } = await browser.open();
    await page.goto(`${served.origin}/types`);
    const email = page.locator('[data-testid="job-type"][data-job="sendEmail"]');
    expect(await email.getByTestId('job-type-versions').getAttribute('data-version')).toBe('2');
    expect(await email.getByTestId('job-type-versions').getAttribute('data-emit-version')).toBe('2');
    await email.getByTestId('job-type-version').locator('summary').click();
    const earlier = JSON.parse((await email.getByTestId('job-type-version-schema').textContent()) ?? '') as { properties?: Record<string, { type?: string }> };
    expect(earlier.properties?.to?.type).toBe('string');

    await page.getByTestId('live-check-run').click();
    await page.waitForURL(/\/types\/live-check/);
    expect(await page.getByTestId('live-check-verdict').getAttribute('data-verdict')).toBe('would_fail');
    const row = page.locator('[data-testid="live-check-row"][data-job="sendEmail"]');
    expect(await row.getByTestId('live-check-read').textContent()).toBe('3');
    expect(await row.getByTestId('live-check-failing').textContent()).toBe('1');
    expect(await row.getByTestId('live-check-version').textContent()).toBe('v1: 3 / 1');
    expect(await row.getByTestId('live-check-path').first().textContent()).toContain('to[]');
    // Nothing ran: the stored jobs are still there, unmigrated.
    const inspector = createInspector({ redis: redisUrl(), prefix });
    defer(() => inspector.close());
    expect(await inspector.stats('mail')).toMatchObject({ waiting: 3 });
  });

  it('pause and resume a queue with its button: Redis says paused, then not', async () => {
    const { prefix, client } = setup('pause');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    const served = await dashboard(prefix);
    const inspector = createInspector({ redis: redisUrl(), prefix });
    defer(() => inspector.close());
    const { page } = await browser.open();
    await page.goto(`${served.origin}/queues/mail`);
    await page.getByTestId('pause-queue').click();
    expect(await page.getByTestId('action-summary').textContent()).toContain('paused');
    expect(await client.isPaused('mail')).toBe(true);
    expect((await inspector.stats('mail')).paused).toBe(true);
    await page.getByTestId('back-link').click();
    await page.getByTestId('queue-paused').waitFor();
    await page.getByTestId('resume-queue').click();
    await page.getByTestId('action-summary').waitFor();
    expect(await client.isPaused('mail')).toBe(false);
    expect((await inspector.stats('mail')).paused).toBe(false);
  });

  it('a payload holding <script> and <img onerror> shows as text and runs nothing', async () => {
    const { prefix, client } = setup('xss');
    const attack = '</script><script>window.__pwned = "script"; alert("xss")</script><img src=x onerror="window.__pwned = \'img\'; alert(1)">';
    const { id } = await client.enqueue('renderHtml', { html: attack });
    // The handler's error message holds the payload too (errors show on the listings and the job page).
    const w = worker(prefix, ['mail'], {
      sendEmail: async () => {},
      renderHtml: async ({ html }) => {
        throw new Error(`could not render ${html}`);
      },
    });
    await w.ready;
    await waitFor(async () => (await client.getJob(id)).state === 'dead', 'the job to die');
    await w.close();
    const served = await dashboard(prefix);
    const { page, record } = await browser.open();
    const pwned = (): Promise<unknown> => page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned);
    for (const path of [`/jobs/${encodeURIComponent(id)}`, '/dead?queue=mail', '/queues/mail?state=dead']) {
      await page.goto(`${served.origin}${path}`);
      await page.getByTestId('page-title').waitFor();
      const text = (await page.getByTestId('content').textContent()) ?? '';
      expect(text, path).toContain('<script>window.__pwned');
      expect(await page.locator('img[src="x"]').count(), path).toBe(0);
      expect(await page.locator('main script:not([type="application/json"])').count(), path).toBe(0);
      expect(await pwned(), path).toBeUndefined();
    }
    expect(await page.getByTestId('payload').count()).toBe(0); // the last page is a listing; the job page had it:
    await page.goto(`${served.origin}/jobs/${encodeURIComponent(id)}`);
    expect(await page.getByTestId('payload').textContent()).toContain('<img src=x onerror=');
    expect(record.dialogs).toEqual([]);
  });

  it('a large payload is cut on the page, downloads whole, and is redacted in both', async () => {
    const { prefix, client } = setup('large');
    const big = 'x'.repeat(300_000);
    const { id } = await client.enqueue('renderHtml', { html: `secret-token-123 ${big}` });
    const redact = (payload: unknown): unknown => ({ ...(payload as { html: string }), html: (payload as { html: string }).html.replace(/secret-token-\d+/, '[redacted]') });
    const served = await dashboard(prefix, { redact });
    const { page } = await browser.open();
    await page.goto(`${served.origin}/jobs/${encodeURIComponent(id)}`);
    const shown = (await page.getByTestId('payload').textContent()) ?? '';
    expect(shown.length).toBeLessThanOrEqual(PAYLOAD_SHOWN_BYTES);
    expect(shown).toContain('[redacted]');
    expect(shown).not.toContain('secret-token-123');
    await page.getByTestId('payload-truncated').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('payload-download').click()]);
    const path = await download.path();
    const whole = JSON.parse(readFileSync(path, 'utf8')) as { html: string };
    expect(whole.html).toBe(`[redacted] ${big}`);
  });

  it('read-only: no action buttons, and a POST from the page is refused with 403', async () => {
    const { prefix, client } = setup('read-only');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    // One dashboard, two roles: a viewer is read-only. The viewer gets the admin's valid CSRF cookie and token, so
    // only the read-only check stands between its POST and the action.
    const served = await dashboard(prefix, { authorize: (req) => (req.headers.get('x-role') === 'viewer' ? 'read-only' : 'full') });
    const admin = await browser.open();
    await admin.page.goto(`${served.origin}/queues/mail`);
    await admin.page.getByTestId('pause-queue').waitFor();
    const token = await csrfOf(admin.page);
    const cookies = await admin.context.cookies();
    expect(cookies.map((c) => c.name)).toContain('jobcraft_csrf');

    const viewer = await browser.open();
    await viewer.context.setExtraHTTPHeaders({ 'x-role': 'viewer' });
    await viewer.context.addCookies(cookies);
    viewer.record.allowError(/status of 403/);
    const post = (page: TestPage['page']): Promise<number> =>
      page.evaluate(async (csrf) => {
        const body = new URLSearchParams({ _csrf: csrf, action: 'pause', queue: 'mail', return: 'queues/mail' });
        return (await fetch('../actions', { method: 'POST', body })).status;
      }, token);
    for (const path of ['/', '/queues/mail', '/queues/mail?state=waiting', '/scheduled', '/dead']) {
      await viewer.page.goto(`${served.origin}${path}`);
      await viewer.page.getByTestId('page-title').waitFor();
      expect(await viewer.page.locator('form[method="post"]').count(), path).toBe(0);
    }
    await viewer.page.goto(`${served.origin}/queues/mail`);
    expect(await post(viewer.page)).toBe(403);
    expect(await client.isPaused('mail')).toBe(false);

    // The same POST as the admin goes through: the viewer's was refused for being read-only, nothing else.
    expect(await post(admin.page)).toBe(200);
    expect(await client.isPaused('mail')).toBe(true);
  });

  it('readOnly option: every page without buttons, POSTs answered 403', async () => {
    const { prefix, client } = setup('read-only-option');
    const id = await deadCharge(prefix, client, 9, { ok: false });
    const served = await dashboard(prefix, { readOnly: true });
    const { page, record } = await browser.open();
    record.allowError(/status of 403/);
    for (const path of ['/', '/queues/billing?state=dead', `/jobs/${encodeURIComponent(id)}`, '/dead', '/scheduled', '/workers', '/types']) {
      await page.goto(`${served.origin}${path}`);
      await page.getByTestId('page-title').waitFor();
      expect(await page.locator('form[method="post"]').count(), path).toBe(0);
    }
    const csrf = await csrfOf(page);
    const status = await page.evaluate(async ({ jobId, csrf }) => {
      const body = new URLSearchParams({ _csrf: csrf, action: 'dead-retry', id: jobId, queue: 'billing' });
      return (await fetch('actions', { method: 'POST', body })).status;
    }, { jobId: id, csrf });
    expect(status).toBe(403);
    expect((await client.getJob(id)).state).toBe('dead');
  });

  it('per-action access: only the allowed actions have buttons, and only they go through', async () => {
    const { prefix, client } = setup('per-action');
    const heal = { ok: false };
    const id = await deadCharge(prefix, client, 11, heal);
    const served = await dashboard(prefix, { authorize: () => ({ actions: ['dead-retry'] }) });
    const { page, record } = await browser.open();
    record.allowError(/status of 403/);
    await page.goto(`${served.origin}/dead?queue=billing`);
    expect(await page.getByTestId('selected-dead-retry').count()).toBe(1);
    expect(await page.getByTestId('selected-dead-delete').count()).toBe(0);
    expect(await page.getByTestId('purge-dead').count()).toBe(0);
    await page.goto(`${served.origin}/queues/billing`);
    expect(await page.getByTestId('pause-queue').count()).toBe(0);
    const token = await csrfOf(page);
    const post = (fields: Record<string, string>): Promise<number> =>
      page.evaluate(async ({ csrf, f }) => (await fetch('../actions', { method: 'POST', body: new URLSearchParams({ _csrf: csrf, ...f }) })).status, { csrf: token, f: fields });
    expect(await post({ action: 'pause', queue: 'billing' })).toBe(403);
    expect(await post({ action: 'dead-delete', queue: 'billing', id })).toBe(403);
    expect(await client.isPaused('billing')).toBe(false);
    expect((await client.getJob(id)).state).toBe('dead');
    heal.ok = true;
    expect(await post({ action: 'dead-retry', queue: 'billing', id })).toBe(200);
    await waitFor(async () => (await client.getJob(id)).state === 'completed', `${id} to complete after its retry`);
  });

  it('a cross-origin POST is refused even with a valid CSRF cookie and token', async () => {
    const { prefix, client } = setup('cross-origin');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    // The status of every POST the dashboard answers, seen on the server (a no-cors fetch's answer is opaque).
    const posts: number[] = [];
    const served = await dashboard(prefix, {}, (fetch) => async (request) => {
      const response = await fetch(request);
      if (request.method === 'POST') posts.push(response.status);
      return response;
    });
    const { page, record } = await browser.open();
    await page.goto(`${served.origin}/queues/mail`);
    const token = await csrfOf(page);
    // Another origin on the same host (so the SameSite cookie goes along) posts a form with the leaked token.
    const attacker = await servePages(
      {
        '/': `<!doctype html><link rel="icon" href="data:,"><form id="f" method="post" action="${served.origin}/actions">
<input name="_csrf" value="${token}"><input name="action" value="pause"><input name="queue" value="mail"><input name="return" value="queues/mail">
</form><script>document.getElementById('f').submit()</script>`,
        '/blank': '<!doctype html><link rel="icon" href="data:,"><title>attacker</title>',
      },
      defer,
    );
    record.allowError(/status of 403/);
    await page.goto(`${attacker.origin}/`);
    await waitFor(() => posts.length === 1, 'the form POST to reach the dashboard');
    expect(posts).toEqual([403]);
    expect(await client.isPaused('mail')).toBe(false);

    // A fetch from the other origin (no-cors: the browser sends it, the page cannot read the answer) fails too.
    await page.goto(`${attacker.origin}/blank`);
    record.allowError(/ERR_BLOCKED_BY_RESPONSE\.NotSameOrigin/); // the dashboard's Cross-Origin-Resource-Policy
    await page.evaluate(
      async ({ url, csrf }) => {
        const body = new URLSearchParams({ _csrf: csrf, action: 'pause', queue: 'mail', return: 'queues/mail' });
        await fetch(url, { method: 'POST', body, mode: 'no-cors', credentials: 'include' }).catch(() => undefined);
      },
      { url: `${served.origin}/actions`, csrf: token },
    );
    await waitFor(() => posts.length === 2, 'the fetch POST to reach the dashboard');
    expect(posts).toEqual([403, 403]);
    expect(await client.isPaused('mail')).toBe(false);

    // The same POST from the dashboard's own origin pauses the queue: only the origin made the difference.
    await page.goto(`${served.origin}/queues/mail`);
    const status = await page.evaluate(async (csrf) => {
      const body = new URLSearchParams({ _csrf: csrf, action: 'pause', queue: 'mail', return: 'queues/mail' });
      return (await fetch('../actions', { method: 'POST', body })).status;
    }, token);
    expect(status).toBe(200);
    expect(posts).toEqual([403, 403, 200]);
    expect(await client.isPaused('mail')).toBe(true);
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
      return fetch(new Request(url, { method: request.method, headers: request.headers, redirect: 'manual', ...(body ? { body } : {}) }));
    });
    const { page } = await browser.open();
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${served.origin}/edge/ops/jobs/`);
    await page.getByTestId('history-chart').locator('.uplot').waitFor(); // uPlot and the page script loaded
    for (const nav of ['nav-dead', 'nav-scheduled', 'nav-workers', 'nav-types', 'nav-overview']) {
      await page.getByTestId(nav).click();
      await page.getByTestId('page-title').waitFor();
      expect(new URL(page.url()).pathname, nav).toMatch(/^\/edge\/ops\/jobs\//);
    }
    await page.locator('[data-testid="queue-row"][data-queue="mail"]').getByTestId('queue-link').click();
    await page.getByTestId('job-link').click();
    await page.getByTestId('job-facts').waitFor();
    expect(new URL(page.url()).pathname).toMatch(/^\/edge\/ops\/jobs\/jobs\//);
    await page.goto(`${served.origin}/edge/ops/jobs/queues/mail`);
    await page.getByTestId('pause-queue').click();
    expect(await page.getByTestId('action-summary').textContent()).toContain('paused');
    expect(await client.isPaused('mail')).toBe(true);
    await page.getByTestId('back-link').click();
    await page.getByTestId('queue-paused').waitFor();
    expect(new URL(page.url()).pathname).toBe('/edge/ops/jobs/queues/mail');
    expect(failed).toEqual([]); // stylesheets, scripts, links and the form all resolved under the prefix
  });

  it('polling: a count that changes in Redis shows without a reload', async () => {
    const { prefix, client } = setup('polling');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    const served = await dashboard(prefix, { pollMs: 500 });
    const { page } = await browser.open();
    await page.goto(`${served.origin}/`);
    const waiting = page.locator('[data-testid="queue-row"][data-queue="mail"]').getByTestId('count-waiting');
    expect(await waiting.textContent()).toBe('1');
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    for (let i = 0; i < 4; i++) await client.enqueue('sendEmail', { to: `b${i}@example.com`, subject: 'y' });
    await expect.poll(() => waiting.textContent(), { timeout: 15_000, interval: 100 }).toBe('5');
    expect(navigations).toBe(0);
  });

  it('polling pauses while the tab is hidden and catches up when it shows again', async () => {
    const { prefix, client } = setup('polling-hidden');
    await client.enqueue('sendEmail', { to: 'a@example.com', subject: 'x' });
    const served = await dashboard(prefix, { pollMs: 300 });
    const { page, context } = await browser.open();
    // Headless Chromium keeps every tab visible, so the page's view of visibility is made switchable, and the ticks of
    // its interval timers are counted (so "several polling periods passed" is a condition, not a sleep).
    await context.addInitScript({
      content: `(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  window.__setHidden = (h) => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
  window.__ticks = 0;
  const setInterval = window.setInterval;
  window.setInterval = (fn, ms, ...args) => setInterval(() => { window.__ticks++; fn(...args); }, ms);
})();`,
    });
    let refreshes = 0;
    page.on('request', (r) => {
      if (r.headers()['x-jobcraft-refresh'] === '1') refreshes++;
    });
    await page.goto(`${served.origin}/`);
    const waiting = page.locator('[data-testid="queue-row"][data-queue="mail"]').getByTestId('count-waiting');
    await waitFor(() => refreshes >= 2, 'the page to poll');
    const ticks = (): Promise<number> => page.evaluate(() => (globalThis as { __ticks?: number }).__ticks ?? 0);

    await page.evaluate(() => (globalThis as { __setHidden?: (h: boolean) => void }).__setHidden?.(true));
    // A request already on its way when the tab was hidden may still land; none starts after it.
    const hiddenAtTick = await ticks();
    await waitFor(async () => (await ticks()) >= hiddenAtTick + 1, 'a polling period to pass');
    const before = refreshes;
    for (let i = 0; i < 2; i++) await client.enqueue('sendEmail', { to: `b${i}@example.com`, subject: 'y' });
    const from = await ticks();
    await waitFor(async () => (await ticks()) >= from + 4, 'four polling periods to pass while hidden');
    expect(refreshes).toBe(before);
    expect(await waiting.textContent()).toBe('1');

    await page.evaluate(() => (globalThis as { __setHidden?: (h: boolean) => void }).__setHidden?.(false));
    await expect.poll(() => waiting.textContent(), { timeout: 15_000, interval: 100 }).toBe('3');
  });
});

// Without the browser the tests above are skipped, and this one says why (see test/global-setup.ts for the notice).
if (browserMissing !== undefined) {
  describe('dashboard in Chromium (skipped)', () => {
    it('runs the browser tests', (ctx) => {
      ctx.skip(skipReason());
    });
  });
}
