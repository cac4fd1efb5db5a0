/**
 * The dashboard's pages through its fetch handler, on a real Redis with real jobs: every page renders what the
 * Inspector reads; attacker-controlled text (payloads, errors, worker names, reflected filters) is escaped; the
 * security headers and the CSP nonce are on every page; `redact` is applied; a large payload is cut with a download
 * link; listings page with cursors; a base path keeps every link relative.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, payloadVersion, PermanentError, queueKeys, type JobClient, type Worker } from '../src/index.js';
import { createDashboard, PAYLOAD_SHOWN_BYTES, type Dashboard } from '../dashboard/index.js';
import { clearPrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';
import { startRedisServer } from '../scripts/redis-server.js';
import { dashboards, get, testId } from './dashboard-helpers.js';
import { registerInMemoryTracing } from './fixtures/otel.js';

// Tracing on in this process: the client stores its span's trace context with each job, which the job page shows.
registerInMemoryTracing();

const XSS = '<script>alert("x")</script>';
/** A job id of the user's (an idempotency key): any text, slashes and markup included. */
const WEIRD_ID = `a/../b ${XSS} %2F`;

const jobs = defineJobs({
  greet: { payload: z.object({ name: z.string(), secret: z.string().optional() }), queue: 'mail' },
  boom: { payload: z.object({ note: z.string() }), queue: 'mail', attempts: 1 },
  big: { payload: z.object({ blob: z.string() }), queue: 'mail' },
  later: { payload: z.object({ n: z.number() }), queue: 'idle' },
  nightly: { payload: z.object({}), queue: 'reports', cron: '0 3 * * *' },
});

const prefix = testPrefix('dashboard-pages');
/** Dashboards with other options than the file's own (closed after the file's tests). */
const another = dashboards({ prefix });
let client: JobClient<typeof jobs>;
let worker: Worker;
let dashboard: Dashboard;
let greetId: string;
let boomId: string;
let bigId: string;
let delayedId: string;
const blob = 'é'.repeat(PAYLOAD_SHOWN_BYTES); // twice the limit in UTF-8 bytes

beforeAll(async () => {
  client = createClient(jobs, { redis: redisUrl(), prefix });
  worker = createWorker(
    jobs,
    {
      greet: () => {},
      boom: () => {
        throw new PermanentError(XSS);
      },
      big: () => {},
    },
    { redis: redisUrl(), prefix, logger: false, queues: ['mail'], name: `<img src=x onerror=alert(1)>` },
  );
  await worker.ready;
  greetId = (await client.enqueue('greet', { name: XSS, secret: 'hunter2' })).id;
  boomId = (await client.enqueue('boom', { note: XSS })).id;
  bigId = (await client.enqueue('big', { blob }, { delay: '1h' })).id;
  delayedId = (await client.enqueue('greet', { name: 'later', secret: 'hunter2' }, { delay: '2h' })).id;
  for (let n = 0; n < 25; n++) await client.enqueue('later', { n });
  await client.enqueue('later', { n: -1 }, { jobId: WEIRD_ID, delay: '3h' });
  await waitFor(async () => (await client.getJob(boomId))?.state === 'dead' && (await client.getJob(greetId))?.state === 'completed', 'boom dead, greet completed');
  dashboard = createDashboard({ redis: redisUrl(), prefix, jobs });
});

afterAll(async () => {
  await dashboard?.close();
  await worker?.close();
  await client?.close();
  await clearPrefix(prefix);
});

describe('pages', () => {
  it('the overview lists every queue with its counts, the history totals and Redis facts, with the security headers', async () => {
    const res = await get(dashboard, '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    for (const q of ['idle', 'mail']) expect(res.text).toContain(`data-queue="${q}"`);
    const idleRow = res.text.slice(res.text.indexOf('data-queue="idle"'));
    expect(testId(idleRow, 'count-waiting')).toBe('25');
    expect(Number(/data-testid="total-processed">(\d+)/.exec(res.text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/data-testid="total-dead">(\d+)/.exec(res.text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(testId(res.text, 'redis-version')).toMatch(/^\d+\.\d+/);
    expect(res.text).toContain('id="chart-data"');
    // Security headers; every script carries this response's nonce; no inline handler anywhere.
    const csp = res.headers.get('content-security-policy') ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const scripts = [...res.text.matchAll(/<script([^>]*)>/g)].map((m) => m[1] ?? '');
    expect(scripts.length).toBeGreaterThan(0);
    for (const attrs of scripts) expect(attrs.includes(`nonce="${nonce}"`) || attrs.includes('type="application/json"')).toBe(true);
    expect(res.text).not.toMatch(/\son[a-z]+=/i);
    // A second response has another nonce.
    const again = await get(dashboard, '/');
    expect(again.headers.get('content-security-policy')).not.toBe(csp);
  });

  it('the overview charts the day and the week too', async () => {
    for (const range of ['day', 'week']) {
      const res = await get(dashboard, `/?range=${range}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain(`<strong data-testid="range-${range}">`);
      const data = JSON.parse(/id="chart-data">([^<]*)</.exec(res.text)?.[1] ?? '{}') as { t: number[]; processed: number[] };
      expect(data.t.length).toBeGreaterThan(range === 'day' ? 1_000 : 100);
      expect(data.processed.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    }
  });

  it('a queue page lists a state one page at a time, with cursor links that cover the queue exactly', async () => {
    const seen: string[] = [];
    let path: string | undefined = '/queues/idle?state=waiting&limit=20';
    let pages = 0;
    while (path !== undefined) {
      const res = await get(dashboard, path);
      expect(res.status).toBe(200);
      seen.push(...[...res.text.matchAll(/data-testid="job-row" data-job-id="([^"]+)"/g)].map((m) => m[1] ?? ''));
      const next = /href="([^"]+)" data-testid="next-page"/.exec(res.text)?.[1];
      // Relative to /queues/idle: "../queues/idle?…"
      path = next === undefined ? undefined : new URL(next.replace(/&amp;/g, '&'), 'http://x/queues/idle').pathname + new URL(next.replace(/&amp;/g, '&'), 'http://x/queues/idle').search;
      pages++;
    }
    expect(pages).toBe(2);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect(testId((await get(dashboard, '/queues/idle')).text, 'state-count-waiting')).toBe('25');
  });

  it('a queue page filters by job type, and a reflected filter is escaped', async () => {
    const res = await get(dashboard, `/queues/mail?state=delayed&job=big`);
    expect(res.text).toContain(`data-job-id="${bigId}"`);
    expect(res.text).not.toContain(`data-job-id="${delayedId}"`);
    const evil = await get(dashboard, `/queues/mail?state=dead&job=${encodeURIComponent(XSS)}`);
    expect(evil.status).toBe(200);
    expect(evil.text).not.toContain(XSS);
    expect(evil.text).toContain('&lt;script&gt;');
  });

  it('a job page shows the payload, state, attempts, error with its stack and timeline, all escaped', async () => {
    const done = await get(dashboard, `/jobs/${encodeURIComponent(greetId)}`);
    expect(done.status).toBe(200);
    expect(testId(done.text, 'job-state')).toBe('completed');
    const dead = await get(dashboard, `/jobs/${encodeURIComponent(boomId)}`);
    expect(dead.status).toBe(200);
    expect(testId(dead.text, 'job-state')).toBe('dead');
    expect(testId(dead.text, 'dead-reason')).toBe('permanent_error');
    expect(testId(dead.text, 'job-attempts')).toBe('1 of 1');
    expect(dead.text).not.toContain(XSS);
    expect(testId(dead.text, 'payload')).toContain('&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;');
    expect(testId(dead.text, 'error-message')).toContain('PermanentError: &lt;script&gt;');
    expect(testId(dead.text, 'error-stack')).toContain('at ');
    expect(dead.text).toMatch(/<ol class="timeline"[^>]*><li>.*enqueued/);
    expect(dead.text).toContain('data-testid="job-dead-retry"');
    expect(testId(dead.text, 'trace-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(testId(dead.text, 'job-priority')).toBe('0');
    const missing = await get(dashboard, `/jobs/${encodeURIComponent('mail#999999')}`);
    expect(missing.status).toBe(404);
  });

  it('a job id of any text (slashes, markup, percent signs) links, routes and shows escaped', async () => {
    const listing = await get(dashboard, '/queues/idle?state=delayed');
    const link = /href="([^"]+)" data-testid="job-link"/.exec(listing.text)?.[1];
    expect(link).toBe(`../jobs/${encodeURIComponent(WEIRD_ID)}`);
    const page = await get(dashboard, `/jobs/${encodeURIComponent(WEIRD_ID)}`);
    expect(page.status).toBe(200);
    expect(testId(page.text, 'job-id')).toBe('a/../b &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; %2F');
    expect(page.text).not.toContain(XSS);
    expect(JSON.parse((await get(dashboard, `/jobs/${encodeURIComponent(WEIRD_ID)}/payload`)).text)).toEqual({ n: -1 });
  });

  it('a payload past the shown size is cut, with a link that downloads the whole payload', async () => {
    const res = await get(dashboard, `/jobs/${encodeURIComponent(bigId)}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('data-testid="payload-truncated"');
    const shown = testId(res.text, 'payload') ?? '';
    expect(Buffer.byteLength(shown)).toBeLessThanOrEqual(PAYLOAD_SHOWN_BYTES + 16);
    const link = /href="([^"]+)" download data-testid="payload-download"/.exec(res.text)?.[1];
    expect(link).toBe(`../jobs/${encodeURIComponent(bigId)}/payload`);
    const download = await get(dashboard, `/jobs/${encodeURIComponent(bigId)}/payload`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="job-mail_\w+\.json"$/);
    expect(JSON.parse(download.text)).toEqual({ blob });
  });

  it('redact decides what a payload shows, on the page and in the download', async () => {
    const seen: unknown[] = [];
    const redacting = another({
      redact: (payload, job) => {
        seen.push(job);
        return { ...(payload as object), secret: '[redacted]' };
      },
    });
    const page = await get(redacting, `/jobs/${encodeURIComponent(delayedId)}`);
    expect(page.text).not.toContain('hunter2');
    expect(page.text).toContain('[redacted]');
    const download = await get(redacting, `/jobs/${encodeURIComponent(delayedId)}/payload`);
    expect(JSON.parse(download.text)).toMatchObject({ secret: '[redacted]' });
    expect(seen[0]).toEqual({ id: delayedId, queue: 'mail', name: 'greet' });
    // Without redact the secret is there: the test above can fail.
    expect((await get(dashboard, `/jobs/${encodeURIComponent(delayedId)}`)).text).toContain('hunter2');
  });

  it('the dead letters page lists them by queue with their reason and error, escaped', async () => {
    const res = await get(dashboard, '/dead?queue=mail');
    expect(res.status).toBe(200);
    expect(res.text).toContain(`data-job-id="${boomId}"`);
    expect(res.text).toContain('permanent_error');
    expect(res.text).not.toContain(XSS);
    expect(res.text).toContain('data-testid="selected-dead-retry"');
    expect(res.text).toContain('data-testid="matching-dead-retry"');
  });

  it('the scheduled page lists delayed jobs by due time and the cron jobs', async () => {
    const res = await get(dashboard, '/scheduled?queue=mail');
    expect(res.status).toBe(200);
    const rows = [...res.text.matchAll(/data-testid="job-row" data-job-id="([^"]+)"/g)].map((m) => m[1]);
    expect(rows).toEqual([bigId, delayedId]);
    expect(res.text).toContain('data-job="nightly"');
    expect(res.text).toContain('data-testid="cron-trigger"');
  });

  it('the workers page lists the live worker, its queues and heartbeat, its name escaped', async () => {
    const res = await get(dashboard, '/workers');
    expect(res.status).toBe(200);
    expect(res.text).toContain('data-testid="worker-row"');
    expect(res.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(res.text).not.toContain('<img src=x');
    expect(res.text).toContain('data-testid="worker-heartbeat"');
  });

  it('the job types page shows each declared job with its options and payload JSON Schema', async () => {
    const res = await get(dashboard, '/types');
    expect(res.status).toBe(200);
    for (const name of ['big', 'boom', 'greet', 'later', 'nightly']) expect(res.text).toContain(`data-job="${name}"`);
    const greet = res.text.slice(res.text.indexOf('data-job="greet"'));
    expect(testId(greet, 'job-type-schema')).toContain('&quot;name&quot;');
    expect(testId(greet, 'job-type-options')).toContain('&quot;queue&quot;: &quot;mail&quot;');
    const manifest = another({ manifest: { jobs: [{ name: 'fromManifest', queue: 'q', input: { type: 'object', properties: { zz: { type: 'string' } } } }] } });
    expect((await get(manifest, '/types')).text).toContain('&quot;zz&quot;');
  });

  it('serves its static files (its script, style sheet and uPlot) as files, and 404s anything else', async () => {
    const js = await get(dashboard, '/static/dashboard.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await get(dashboard, '/static/uPlot.iife.min.js')).text).toContain('uPlot');
    expect((await get(dashboard, '/static/..%2Fpackage.json')).status).toBe(404);
    expect((await get(dashboard, '/nope')).status).toBe(404);
  });
});

describe('base path', () => {
  it('routes under the base path, redirects its root to a slash, and writes only relative links', async () => {
    const mounted = another({ basePath: '/ops/jobs/' });
    const bare = await get(mounted, '/ops/jobs');
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('./jobs/');
    const root = await get(mounted, '/ops/jobs/');
    expect(root.status).toBe(200);
    expect(root.text).toContain('href="./queues/idle"');
    expect(root.text).toContain('src="./static/dashboard.js"');
    const queue = await get(mounted, '/ops/jobs/queues/idle');
    expect(queue.status).toBe(200);
    expect(queue.text).toContain('src="../static/dashboard.js"');
    expect(queue.text).toContain('action="../actions"');
    // No link starts at the server's root.
    expect([...queue.text.matchAll(/(?:href|src|action)="([^"]*)"/g)].map((m) => m[1]).filter((u) => u?.startsWith('/') || u?.includes('://'))).toEqual([]);
    expect((await get(mounted, '/queues/idle')).status).toBe(404);
    // Error pages link relative to where they are too, and never reload themselves.
    const missing = await get(mounted, `/ops/jobs/jobs/${encodeURIComponent('idle#999999')}`);
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('href="../dead"');
    expect(missing.text).toContain('data-no-refresh="1"');
    expect(root.text).not.toContain('data-no-refresh');
    // A trailing slash is one level deeper for the browser: the links follow.
    expect((await get(mounted, '/ops/jobs/queues/idle/')).text).toContain('src="../../static/dashboard.js"');
    expect((await get(mounted, '/ops/jobs/static/dashboard.css')).status).toBe(200);
  });
});

describe('Redis facts', () => {
  it('warns on the overview when maxmemory-policy may evict job keys, and not under noeviction', async () => {
    const quiet = await get(dashboard, '/');
    expect(testId(quiet.text, 'redis-policy')).toBe('noeviction');
    expect(quiet.text).not.toContain('data-testid="eviction-warning"');
    const server = await startRedisServer();
    const raw = rawRedis(server.url);
    const evicting = createDashboard({ redis: server.url, prefix });
    try {
      await raw.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const res = await get(evicting, '/');
      expect(res.status).toBe(200);
      expect(testId(res.text, 'redis-policy')).toBe('allkeys-lru');
      expect(testId(res.text, 'eviction-warning')).toContain('allkeys-lru');
    } finally {
      await evicting.close();
      raw.disconnect();
      await server.stop();
    }
  });
});

describe('payload versions and the live check', () => {
  const v1 = z.object({ to: z.string() });
  const v2 = z.object({ to: z.array(z.email()) });
  /** The code deployed before: one address. */
  const oldJobs = defineJobs({ notify: { payload: v1, queue: 'versioned' } });
  /** The code the dashboard runs: a list, the migration from version 1, producers still pinned to version 1. */
  const newJobs = defineJobs({ notify: { payload: v2, queue: 'versioned', versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))], emitVersion: 1 } });

  it('the job types page shows each job\'s versions and emitVersion; the live check (read-only, writes nothing) shows per type and version what would fail, escaped', async () => {
    const p = testPrefix('dashboard-versions');
    const raw = rawRedis();
    const old = createClient(oldJobs, { redis: redisUrl(), prefix: p });
    try {
      await old.enqueue('notify', { to: 'a@x.io' });
      await old.enqueue('notify', { to: 'not an address' });
      // A stored job whose name is markup (written by anything that can reach Redis).
      await raw.hset(queueKeys(p, 'versioned').jobs, 'x1', JSON.stringify({ n: XSS, t: 1, p: {} }));
      const dash = another({ prefix: p, jobs: newJobs, readOnly: true });

      const types = await get(dash, '/types');
      expect(types.status).toBe(200);
      const notify = types.text.slice(types.text.indexOf('data-job="notify"'));
      expect(notify).toContain('data-testid="job-type-versions" data-version="2" data-emit-version="1"');
      expect(testId(notify, 'job-type-versions')).toContain('pinned with emitVersion');
      expect(notify).toContain('data-testid="job-type-version" data-version="1"');
      expect(JSON.parse((testId(notify, 'job-type-version-schema') ?? '').replace(/&quot;/g, '"'))).toMatchObject({ properties: { to: { type: 'string' } } });
      expect(types.text).toContain('data-testid="live-check-form"');

      const keys = (await raw.keys(`${p}:*`)).sort();
      const before = await Promise.all(keys.map((k) => raw.dump(k)));
      const live = await get(dash, '/types/live-check');
      expect(live.status).toBe(200);
      expect(live.text).toContain('data-verdict="would_fail"');
      expect(live.text).toContain('data-no-refresh="1"');
      const row = live.text.slice(live.text.indexOf('data-testid="live-check-row" data-queue="versioned" data-job="notify"'));
      expect(testId(row, 'live-check-read')).toBe('2');
      expect(testId(row, 'live-check-failing')).toBe('1');
      expect(row).toContain('data-testid="live-check-version" data-version="1">v1: 2 / 1');
      expect(row).toMatch(/data-testid="live-check-path"><code>to\[\]<\/code> invalid_format \(1\): /);
      expect(live.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
      expect(live.text).not.toContain(XSS);
      // Read-only: nothing in Redis changed.
      expect((await raw.keys(`${p}:*`)).sort()).toEqual(keys);
      expect(await Promise.all(keys.map((k) => raw.dump(k)))).toEqual(before);

      // The bound: a check that would read more stops between pages and says it is partial.
      await old.enqueueMany('notify', Array.from({ length: 300 }, (_, i) => ({ to: `user-${i}-with-an-address-long-enough-for-a-hashtable@example.com` })));
      const bounded = await get(another({ prefix: p, jobs: newJobs, liveCheckMaxJobs: 20 }), '/types/live-check');
      expect(bounded.text).toContain('data-verdict="partial"');
      expect(Number(/Partial: the first (\d+) stored jobs/.exec(bounded.text)?.[1])).toBeLessThan(303);
      expect(() => another({ liveCheckMaxJobs: 0 })).toThrow(/liveCheckMaxJobs must be a whole number/);

      // Without a job set there is nothing to check with; a manifest's versions show too.
      expect((await get(another({ prefix: p, jobs: undefined }), '/types/live-check')).text).toContain('data-testid="live-check-unavailable"');
      const manifest = another({ prefix: p, jobs: undefined, manifest: { jobs: [{ name: 'm', queue: 'q', input: {}, version: 2, emitVersion: 2, versions: [{ version: 1, input: { type: 'object', properties: { oldField: { type: 'string' } } } }] }] } });
      const fromManifest = (await get(manifest, '/types')).text;
      expect(fromManifest).toContain('data-version="2" data-emit-version="2"');
      expect(fromManifest).toContain('&quot;oldField&quot;');
      // A job set rebuilt from a manifest has no migrations: the check is not offered for it (it would count every
      // stored job of an earlier version as failing).
      const rebuilt = another({ prefix: p, jobs: oldJobs, manifest: { jobs: [{ name: 'notify', queue: 'versioned', input: {}, version: 2, emitVersion: 1, versions: [{ version: 1, input: {} }] }] } });
      expect(testId((await get(rebuilt, '/types')).text, 'live-check-unavailable')).toContain('notify has earlier payload versions in the manifest but not in the dashboard');
      const refused = await get(rebuilt, '/types/live-check');
      expect(refused.text).toContain('data-testid="live-check-unavailable"');
      expect(refused.text).not.toContain('data-testid="live-check-verdict"');
    } finally {
      await old.close();
      await clearPrefix(p);
      raw.disconnect();
    }
  });
});
