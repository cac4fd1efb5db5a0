/**
 * Defects found by the audit of issue 12 (the web dashboard), each pinned by a test written before its fix, through
 * the fetch handler: docs/dashboard.md promises that "a bad query parameter or form field answers 400 naming it", but
 * a mistyped `state` (`failed`, BullMQ's word for dead) showed the waiting jobs under the queue's name, a mistyped
 * `range` or `limit` fell back to the default silently, and a `dry` field other than `1` (`dry=true` from a script)
 * ran the action for real instead of counting; the 503 page of an unreachable Redis named only ioredis's retry limit,
 * not the connection error (ECONNREFUSED) the dashboard had seen; an async `redact` showed `{}` (its promise
 * stringified) and a rejecting one was unhandled; a redact answer JSON cannot hold (a BigInt) answered 500; a
 * read-only user's malformed POST answered 400 where docs promise 403 for every POST; a per-action user's refusal
 * said "read-only access"; the job page showed none of the job's own stored options but attempts and priority (no
 * unique key, no payload version); the job types page polled, closing every 5 s the <details> being read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createInspector, createWorker, defineJobs, PermanentError, type JobClient } from '../src/index.js';
import { clearPrefix, redisUrl, testPrefix, waitFor } from './helpers.js';
import { dashboards, get, post, session, testId } from './dashboard-helpers.js';

const jobs = defineJobs({
  task: { payload: z.object({ n: z.number() }), queue: 'work', attempts: 1 },
  once: { payload: z.object({ k: z.string() }), queue: 'later', unique: true },
});

const prefix = testPrefix('dashboard-audit');
let client: JobClient<typeof jobs>;
const dashboard = dashboards({ prefix, jobs });

beforeAll(async () => {
  client = createClient(jobs, { redis: redisUrl(), prefix });
  const worker = createWorker(
    jobs,
    {
      task: () => {
        throw new PermanentError('refused');
      },
    },
    { redis: redisUrl(), prefix, logger: false, queues: ['work'] },
  );
  await worker.ready;
  for (let i = 0; i < 2; i++) await client.enqueue('task', { n: i }, { jobId: `dead-${i}` });
  await waitFor(async () => (await client.getJob('dead-1'))?.state === 'dead', 'the tasks dead');
  await worker.close();
  await client.enqueue('task', { n: 9 }, { jobId: 'waiting-1' });
});

afterAll(async () => {
  await client?.close();
  await clearPrefix(prefix);
});

describe('bad query parameters answer 400 naming them (docs/dashboard.md)', () => {
  it('a state that is not one of the listing states is refused, not shown as the waiting jobs', async () => {
    const res = await get(dashboard(), '/queues/work?state=failed');
    expect(res.status).toBe(400);
    const message = testId(res.text, 'error') ?? '';
    expect(message).toContain('state');
    expect(message).toContain('&quot;failed&quot;');
    expect(message).toContain('dead');
    expect(res.text).not.toContain('waiting-1');
  });

  it('a range other than hour, day or week is refused', async () => {
    expect((await get(dashboard(), '/?range=toString')).status).toBe(400);
    const res = await get(dashboard(), '/?range=month');
    expect(res.status).toBe(400);
    const message = testId(res.text, 'error') ?? '';
    expect(message).toContain('range');
    expect(message).toContain('&quot;month&quot;');
    expect(message).toContain('week');
  });

  it('a page size that is not one of PAGE_SIZES is refused, on the queue, dead letters and scheduled pages', async () => {
    for (const path of ['/queues/work?state=dead&limit=7', '/dead?queue=work&limit=7', '/scheduled?queue=work&limit=1000000']) {
      const res = await get(dashboard(), path);
      expect(res.status, path).toBe(400);
      const message = testId(res.text, 'error') ?? '';
      expect(message, path).toContain('limit');
      expect(message, path).toContain('20, 50, 100, 200');
    }
    // The default and every offered size still work; an empty field (a form's blank) means the default.
    for (const path of ['/queues/work?state=dead', '/queues/work?state=dead&limit=', '/dead?queue=work&limit=200', '/?range=', '/?range=week', '/queues/work?state=']) {
      expect((await get(dashboard(), path)).status, path).toBe(200);
    }
  });
});

describe('bad form fields answer 400 naming them', () => {
  it('a dry field other than 1 is refused instead of running the action for real', async () => {
    const d = dashboard();
    const { cookie, token } = await session(d);
    const purge = await post(d, { _csrf: token, action: 'dead-purge', queue: 'work', dry: 'true' }, { Cookie: cookie });
    expect(purge.status).toBe(400);
    expect(testId(purge.text, 'error')).toContain('dry');
    const retry = await post(d, { _csrf: token, action: 'dead-retry', queue: 'work', state: 'dead', select: 'all', dry: 'yes' }, { Cookie: cookie });
    expect(retry.status).toBe(400);
    expect((await client.getJob('dead-0'))?.state).toBe('dead');
    expect((await client.getJob('dead-1'))?.state).toBe('dead');
    // dry=1 counts, and a form without dry (or dry=0) acts: as before.
    const count = await post(d, { _csrf: token, action: 'dead-purge', queue: 'work', dry: '1' }, { Cookie: cookie });
    expect(count.status).toBe(200);
    expect(testId(count.text, 'matched-count')).toBe('2');
    const one = await post(d, { _csrf: token, action: 'dead-delete', queue: 'work', id: 'dead-0', dry: '0' }, { Cookie: cookie });
    expect(one.status).toBe(200);
    expect((await client.getJob('dead-0'))?.state).toBe('unknown');
  });
});

describe('Redis down', () => {
  it("the 503 page names the connection's cause (ECONNREFUSED), not only ioredis's retry limit", async () => {
    const d = dashboard({ redis: 'redis://127.0.0.1:1', logError: () => {} });
    const res = await get(d, '/');
    expect(res.status).toBe(503);
    const message = testId(res.text, 'error') ?? '';
    expect(message).toContain('redis://127.0.0.1:1 is unreachable');
    expect(message).toContain('ECONNREFUSED');
  });
});

describe('redact', () => {
  it('an async redact hook (a lookup of what to mask) shows its answer, on the page and in the download, not "{}"', async () => {
    const d = dashboard({
      redact: async (payload) => {
        await new Promise((r) => setTimeout(r, 1));
        return { ...(payload as object), n: 'masked' };
      },
    });
    const page = await get(d, '/jobs/waiting-1');
    expect(page.status).toBe(200);
    expect(testId(page.text, 'payload')).toContain('&quot;n&quot;: &quot;masked&quot;');
    const download = await get(d, '/jobs/waiting-1/payload');
    expect(JSON.parse(download.text)).toEqual({ n: 'masked' });
    // A hook that rejects hides the payload, as one that throws.
    const rejecting = dashboard({ redact: async () => Promise.reject(new Error('vault down')) });
    const refused = await get(rejecting, '/jobs/waiting-1');
    expect(testId(refused.text, 'payload-redact-failed')).toContain('redact hook threw');
    expect(refused.text).not.toContain('&quot;n&quot;: 9');
  });

  it('a redact answer JSON cannot hold (a BigInt, a cycle) shows a notice naming it, not a 500', async () => {
    const d = dashboard({ redact: (payload) => ({ ...(payload as object), n: 10n }) });
    const page = await get(d, '/jobs/waiting-1');
    expect(page.status).toBe(200);
    expect(testId(page.text, 'payload-redact-failed')).toContain('BigInt');
    const download = await get(d, '/jobs/waiting-1/payload');
    expect(download.status).toBe(500);
    expect(download.text).toContain('BigInt');
  });
});

describe('read-only', () => {
  it('answers every POST with 403 (docs), a malformed one too, instead of 400 for a form it would refuse anyway', async () => {
    const d = dashboard({ readOnly: true });
    const { cookie, token } = await session(d);
    const forms: Record<string, string>[] = [{ action: 'bogus' }, { action: 'dead-purge', queue: 'work', dry: 'true' }, { action: 'pause' }];
    for (const fields of forms) {
      const res = await post(d, { _csrf: token, ...fields }, { Cookie: cookie });
      expect(res.status, JSON.stringify(fields)).toBe(403);
      expect(testId(res.text, 'error'), JSON.stringify(fields)).toContain('read-only');
    }
  });
});

describe('per-action access', () => {
  it('a refused action says which actions the access allows, not "read-only"', async () => {
    const d = dashboard({ authorize: () => ({ actions: ['pause', 'resume'] }) });
    const { cookie, token } = await session(d);
    const res = await post(d, { _csrf: token, action: 'dead-purge', queue: 'work', dry: '1' }, { Cookie: cookie });
    expect(res.status).toBe(403);
    const message = testId(res.text, 'error') ?? '';
    expect(message).toContain('You may not dead-purge here');
    expect(message).toContain('pause, resume');
    expect(message).not.toContain('read-only');
  });
});

describe('job page options', () => {
  it("shows the job's own stored options: its unique key and payload version beside attempts and priority", async () => {
    const once = await client.enqueue('once', { k: 'a' }, { delay: '1h', attempts: 4, priority: 3 });
    const inspector = createInspector({ redis: redisUrl(), prefix });
    const details = await inspector.job(once.id).finally(() => inspector.close());
    expect(details).toMatchObject({ state: 'delayed', maxAttempts: 4, priority: 3, payloadVersion: 1 });
    expect(details.uniqueKey).toMatch(/^once:[0-9a-f]{40}$/);
    const page = await get(dashboard(), `/jobs/${encodeURIComponent(once.id)}`);
    expect(testId(page.text, 'job-attempts')).toBe('0 of 4');
    expect(testId(page.text, 'job-priority')).toBe('3');
    expect(testId(page.text, 'job-unique-key')).toBe(details.uniqueKey);
    expect(testId(page.text, 'job-payload-version')).toBe('1');
    // A job that is not unique has no unique-key row.
    expect((await get(dashboard(), '/jobs/waiting-1')).text).not.toContain('job-unique-key');
  });
});

describe('polling', () => {
  it('the job types page does not refresh itself: its content changes only with a restart, and a refresh closed the <details> being read', async () => {
    const res = await get(dashboard(), '/types');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/<body [^>]*data-no-refresh/);
    // The pages showing Redis data still poll.
    expect((await get(dashboard(), '/')).text).not.toMatch(/<body [^>]*data-no-refresh/);
  });
});
