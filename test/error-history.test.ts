/**
 * A job's error history (issue #12): each failed attempt's error is kept, not only the last, up to a cap
 * (MAX_EARLIER_ERRORS earlier ones beside the last), in order and with stacks — through getJob, the inspector, the
 * dead letters, the `jobcraft job` / `jobcraft dead show` commands (--json) and the dashboard's job page. The cap
 * holds however often a job fails, and across a retry from the dead letters; records written before the history
 * existed still read; hostile records (written by anyone with access to Redis) neither crash a reader nor the scripts
 * that move them, and are capped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, createInspector, createWorker, queueKeys, type StoredError, type Worker } from '../src/index.js';
import { MAX_EARLIER_ERRORS, MAX_EARLIER_ERROR_BYTES } from '../src/bounds.js';
import { createDashboard, type Dashboard } from '../dashboard/index.js';
import { jobs } from '../jobs.schema.js';
import { runCli } from './cli.js';
import { get, testId } from './dashboard-helpers.js';
import { deferred, deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const prefix = testPrefix('error-history');
const client = createClient(jobs, { redis: redisUrl(), prefix });
const inspector = createInspector({ redis: redisUrl(), prefix, jobs });
const raw = rawRedis();
const reports = queueKeys(prefix, 'reports');
const email = queueKeys(prefix, 'email');
let worker: Worker;
let dashboard: Dashboard;

/** What the handler does for a payload's `day`: fail attempts up to `failUntil` (all when absent), wait for `gate` first. */
const plans = new Map<string, { failUntil?: number; gate?: Map<number, Promise<void>>; started?: Set<number> }>();

/** The error of attempt n of the job for `day`: markup in it, so every view must escape it. */
const messageOf = (day: string, attempt: number): string => `<b>failed</b> ${day} attempt ${attempt}`;

function cli(args: readonly string[]) {
  return runCli(args, { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1', FORCE_COLOR: '' });
}

beforeAll(async () => {
  worker = createWorker(
    jobs,
    {
      buildDailyReport: async ({ day }, ctx) => {
        const plan = plans.get(day ?? '') ?? {};
        plan.started?.add(ctx.attempt);
        await plan.gate?.get(ctx.attempt);
        if (plan.failUntil === undefined || ctx.attempt <= plan.failUntil) throw new Error(messageOf(day ?? '', ctx.attempt));
      },
    },
    { redis: redisUrl(), prefix, logger: false, queues: ['reports'], concurrency: 8 },
  );
  await worker.ready;
  dashboard = createDashboard({ redis: redisUrl(), prefix, jobs });
});

afterAll(async () => {
  await dashboard?.close();
  await worker?.close();
  await client.close();
  await inspector.close();
  await deletePrefix(raw, prefix);
  raw.disconnect();
});

/** The attempts and messages of a list of errors, and that each has a stack naming where it was thrown. */
function expectErrors(errors: readonly StoredError[], day: string, attempts: readonly number[]): void {
  expect(errors.map((e) => e.attempt)).toEqual(attempts);
  expect(errors.map((e) => e.message)).toEqual(attempts.map((a) => messageOf(day, a)));
  for (const e of errors) {
    expect(e.name).toBe('Error');
    expect(e.stack).toContain('error-history.test.ts');
    expect(e.at).toBeGreaterThan(0);
  }
  for (let i = 1; i < errors.length; i++) expect(errors[i]!.at).toBeGreaterThanOrEqual(errors[i - 1]!.at);
}

/** Enqueues a buildDailyReport job for `day` and waits until it is dead. */
async function dies(day: string, attempts: number): Promise<string> {
  plans.set(day, {});
  const { id } = await client.enqueue('buildDailyReport', { day }, { attempts });
  await waitFor(async () => (await client.getJob(id)).state === 'dead', `${day} to die`, 30_000);
  return id;
}

describe('error history', () => {
  it('a job failing 3 times keeps all 3 errors in order, with stacks, while it runs again; completing drops them', async () => {
    const day = '2026-01-01';
    const gate = deferred();
    const started = new Set<number>();
    plans.set(day, { failUntil: 3, gate: new Map([[4, gate.promise]]), started });
    const { id } = await client.enqueue('buildDailyReport', { day }, { attempts: 5 });
    await waitFor(() => started.has(4), 'attempt 4 to start', 30_000);

    const info = await client.getJob(id);
    expect(info.state).toBe('active');
    expectErrors(info.errors, day, [1, 2, 3]);
    expect(info.lastError).toEqual(info.errors[2]);

    const details = await inspector.job(id);
    expectErrors(details.errors, day, [1, 2, 3]);

    // The record itself: the last error at the top level as before (every old reader reads it), the earlier ones in
    // "earlier", oldest first.
    const record = JSON.parse((await raw.hget(reports.errors, id)) ?? 'null') as { attempt: number; earlier: { attempt: number }[] };
    expect(record.attempt).toBe(3);
    expect(record.earlier.map((e) => e.attempt)).toEqual([1, 2]);

    const shown = await cli(['job', id, '--json']);
    expect(shown.code).toBe(0);
    const body = JSON.parse(shown.stdout) as { lastError: { attempt: number }; errors: { attempt: number; message: string; stack: string; at: string }[] };
    expect(body.lastError.attempt).toBe(3);
    expect(body.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(body.errors.map((e) => e.message)).toEqual([1, 2, 3].map((a) => messageOf(day, a)));
    for (const e of body.errors) {
      expect(e.stack).toContain('error-history.test.ts');
      expect(Date.parse(e.at)).toBeGreaterThan(0);
    }
    const events = (JSON.parse(shown.stdout) as { timeline: { event: string }[] }).timeline.map((e) => e.event);
    expect(events.filter((e) => / failed: /.test(e))).toEqual([1, 2, 3].map((a) => `attempt ${a} failed: Error: ${messageOf(day, a)}`));
    const text = await cli(['job', id]);
    expect(text.code).toBe(0);
    for (const a of [1, 2, 3]) expect(text.stdout).toContain(`Error: ${messageOf(day, a)} (attempt ${a}, `);
    expect(text.stdout).toContain('errors (3, oldest first');
    expect(text.stdout).toContain('error-history.test.ts');

    const page = await get(dashboard, `/jobs/${encodeURIComponent(id)}`);
    expect(page.status).toBe(200);
    const items = page.text.split('data-testid="job-error"').slice(1);
    expect(items).toHaveLength(3);
    // Newest first, each with its attempt, its escaped message and its stack.
    items.forEach((item, i) => {
      const attempt = 3 - i;
      expect(item).toContain(`data-attempt="${attempt}"`);
      expect(item).toContain(`&lt;b&gt;failed&lt;/b&gt; ${day} attempt ${attempt}`);
      expect(item).toContain('error-history.test.ts');
    });
    expect(page.text).not.toContain('<b>failed</b>');
    expect(testId(page.text, 'error-message')).toContain(`attempt 3`);
    expect(testId(page.text, 'error-stack')).toContain('error-history.test.ts');
    expect(page.text).not.toContain('keeps the last error');
    const timeline = testId(page.text.replace(/<\/?(time|li)[^>]*>/g, ' '), 'timeline') ?? '';
    for (const a of [1, 2, 3]) expect(timeline).toContain(`attempt ${a} failed`);

    gate.resolve();
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete');
    expect((await client.getJob(id)).errors).toEqual([]);
    expect(await raw.hexists(reports.errors, id)).toBe(0);
  });

  it('a job that dies after 3 failures keeps all 3 in its dead letter: getJob, deadLetters, inspector, CLI, dashboard', async () => {
    const day = '2026-01-02';
    const id = await dies(day, 3);
    expectErrors((await client.getJob(id)).errors, day, [1, 2, 3]);
    const letter = await client.deadLetters.queue('reports').get(id);
    expectErrors(letter!.errors, day, [1, 2, 3]);
    expect(letter!.error).toEqual(letter!.errors[2]);
    expectErrors((await client.deadLetters.list('reports')).find((d) => d.id === id)!.errors, day, [1, 2, 3]);
    expectErrors((await inspector.job(id)).errors, day, [1, 2, 3]);
    expect(await raw.hexists(reports.errors, id)).toBe(0);

    const shown = await cli(['dead', 'show', id, '--json']);
    expect(shown.code).toBe(0);
    const body = JSON.parse(shown.stdout) as { error: { attempt: number }; errors: { attempt: number; stack: string }[] };
    expect(body.error.attempt).toBe(3);
    expect(body.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    for (const e of body.errors) expect(e.stack).toContain('error-history.test.ts');
    const text = await cli(['dead', 'show', id]);
    for (const a of [1, 2, 3]) expect(text.stdout).toContain(`Error: ${messageOf(day, a)} (attempt ${a}, `);

    const page = await get(dashboard, `/jobs/${encodeURIComponent(id)}`);
    const items = page.text.split('data-testid="job-error"').slice(1);
    expect(items.map((item) => /data-attempt="(\d+)"/.exec(item)?.[1])).toEqual(['3', '2', '1']);
  });

  it('keeps at most the cap: after 10 failures, the last error and the 4 before it', async () => {
    const day = '2026-01-03';
    const id = await dies(day, 10);
    const kept = Array.from({ length: MAX_EARLIER_ERRORS + 1 }, (_, i) => 10 - MAX_EARLIER_ERRORS + i);
    expect(kept).toEqual([6, 7, 8, 9, 10]);
    expectErrors((await client.getJob(id)).errors, day, kept);
    const info = JSON.parse((await raw.hget(reports.deadInfo, id)) ?? 'null') as { earlier: unknown[] };
    expect(info.earlier).toHaveLength(MAX_EARLIER_ERRORS);
  });

  it('a dead letter retried keeps its errors while it waits; failing again, it keeps the newest within the cap', async () => {
    const day = '2026-01-04';
    const id = await dies(day, 3);
    const before = (await client.getJob(id)).errors;
    expectErrors(before, day, [1, 2, 3]);
    await client.pause('reports');
    expect(await client.deadLetters.queue('reports').retry([id])).toEqual([id]);
    const waiting = await client.getJob(id);
    expect(waiting).toMatchObject({ state: 'waiting', attempts: 0 });
    expect(waiting.errors).toEqual(before);
    expect((await inspector.stats('reports')).retrying).toBe(1); // a live job that failed before and will run again
    await client.resume('reports');
    // Fresh attempts: it fails 3 times again and dies again.
    await waitFor(async () => (await client.getJob(id)).state === 'dead' && ((await client.getJob(id)).errors[4]?.at ?? 0) > before[2]!.at, 'the retried job to die again', 30_000);
    const after = (await client.getJob(id)).errors;
    expect(after.map((e) => e.attempt)).toEqual([2, 3, 1, 2, 3]);
    expect(after.slice(0, 2)).toEqual(before.slice(1));
    expectErrors(after.slice(2), day, [1, 2, 3]);
    const info = JSON.parse((await raw.hget(reports.deadInfo, id)) ?? 'null') as { earlier: unknown[] };
    expect(info.earlier).toHaveLength(MAX_EARLIER_ERRORS);
  });

  it('a hostile dead letter retried gets a bounded error record', async () => {
    const huge = 'é"\u0001/'.repeat(50_000);
    const earlier = [...Array.from({ length: 10_000 }, (_, i) => ({ message: `m${i}`, ...(i > 9_990 ? { stack: huge } : {}) })), 7];
    await raw.hset(email.dead, 'hostile-retry', JSON.stringify({ n: 'sendWelcomeEmail', t: 1, p: { userId: 'u', email: 'u@example.com' } }));
    await raw.hset(email.deadInfo, 'hostile-retry', JSON.stringify({ reason: 'attempts_exhausted', attempts: 1, diedAt: 2, error: { name: huge, message: huge, stack: huge, attempt: 3, at: 4 }, earlier }));
    await raw.zadd(email.deadOrder, 2, 'hostile-retry');
    expect(await client.deadLetters.queue('email').retry(['hostile-retry'])).toEqual(['hostile-retry']);
    const record = (await raw.hget(email.errors, 'hostile-retry')) ?? '';
    expect(Buffer.byteLength(record)).toBeLessThanOrEqual(32 * 1024 + MAX_EARLIER_ERRORS * (MAX_EARLIER_ERROR_BYTES + 1) + 20);
    const errors = (await client.getJob('hostile-retry')).errors;
    expect(errors.map((e) => e.message.slice(0, 5))).toEqual(['m9997', 'm9998', 'm9999', huge.slice(0, 5)]);
    expect(errors[3]).toMatchObject({ attempt: 3, at: 4 });
    expect(errors[3]!.message).toContain('[truncated]');
    // Not JSON at all: retried without a history.
    await raw.hset(email.dead, 'garbage-retry', '{"n":"sendWelcomeEmail","t":1,"p":{}}');
    await raw.hset(email.deadInfo, 'garbage-retry', 'not json');
    expect(await client.deadLetters.queue('email').retry(['garbage-retry'])).toEqual(['garbage-retry']);
    expect((await client.getJob('garbage-retry')).errors).toEqual([]);
  });

  it('records written before the history existed read as one error', async () => {
    const { id } = await client.enqueue('sendWelcomeEmail', { userId: 'u1', email: 'u1@example.com' }, { delay: '1h' });
    await raw.hset(email.errors, id, JSON.stringify({ name: 'Error', message: 'old format', stack: 'Error: old format\n    at x', attempt: 2, at: 1_764_300_000_000 }));
    const info = await client.getJob(id);
    expect(info.state).toBe('retrying');
    expect(info.errors).toEqual([{ name: 'Error', message: 'old format', stack: 'Error: old format\n    at x', attempt: 2, at: 1_764_300_000_000 }]);
    expect(info.lastError).toEqual(info.errors[0]);

    await raw.hset(email.dead, 'old-dead', JSON.stringify({ n: 'sendWelcomeEmail', t: 1, p: { userId: 'u', email: 'u@example.com' } }));
    await raw.hset(email.deadInfo, 'old-dead', JSON.stringify({ reason: 'attempts_exhausted', attempts: 3, diedAt: 5, error: { name: 'Error', message: 'died', attempt: 3, at: 4 } }));
    await raw.zadd(email.deadOrder, 5, 'old-dead');
    const letter = await client.deadLetters.queue('email').get('old-dead');
    expect(letter!.errors).toEqual([{ name: 'Error', message: 'died', stack: undefined, attempt: 3, at: 4 }]);
    expect((await client.getJob('old-dead')).errors).toHaveLength(1);
  });

  it('hostile records are read defensively and capped: a non-list, a huge list of numbers, nested objects', async () => {
    const { id } = await client.enqueue('sendWelcomeEmail', { userId: 'u2', email: 'u2@example.com' }, { delay: '1h' });
    const last = { name: 'Error', message: 'last', attempt: 9, at: 10 };
    const cases: [unknown, number][] = [
      ['x', 0],
      [Array.from({ length: 10_000 }, (_, i) => i), 0],
      [{ 0: { message: 'not a list' } }, 0],
      [[{ message: { nested: { deep: true } } }, { message: 'ok', name: { a: 1 }, attempt: 'two', at: { t: 1 }, stack: ['s'] }, null, [1]], 1],
      [Array.from({ length: 10_000 }, (_, i) => ({ message: `m${i}`, at: i })), MAX_EARLIER_ERRORS],
    ];
    for (const [earlier, n] of cases) {
      await raw.hset(email.errors, id, JSON.stringify({ ...last, earlier }));
      const info = await client.getJob(id);
      expect(info.errors).toHaveLength(n + 1);
      expect(info.lastError).toEqual({ ...last, stack: undefined });
      for (const e of info.errors) {
        expect(typeof e.name).toBe('string');
        expect(typeof e.message).toBe('string');
        expect(e.stack === undefined || typeof e.stack === 'string').toBe(true);
        expect(e.attempt === undefined || Number.isSafeInteger(e.attempt)).toBe(true);
        expect(Number.isFinite(e.at)).toBe(true);
      }
      expect((await inspector.job(id)).errors).toHaveLength(n + 1);
      const page = await get(dashboard, `/jobs/${encodeURIComponent(id)}`);
      expect(page.status).toBe(200);
      expect(page.text.split('data-testid="job-error"')).toHaveLength(n + 2);
    }
    // The newest of a huge list are kept, oldest first.
    expect((await client.getJob(id)).errors.map((e) => e.message)).toEqual(['m9996', 'm9997', 'm9998', 'm9999', 'last']);
    // An "earlier" entry of the wrong types reads with each field of its type.
    await raw.hset(email.errors, id, JSON.stringify({ ...last, earlier: [{ message: 'ok', name: { a: 1 }, attempt: 'two', at: 1e400, stack: ['s'] }] }));
    expect((await client.getJob(id)).errors[0]).toEqual({ name: 'Error', message: 'ok', stack: undefined, attempt: undefined, at: 0 });

    await raw.hset(email.dead, 'hostile-dead', '{"n":"sendWelcomeEmail","t":1,"p":{}}');
    await raw.hset(email.deadInfo, 'hostile-dead', JSON.stringify({ reason: 'attempts_exhausted', attempts: 1, diedAt: 2, error: last, earlier: Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? i : { message: `m${i}` })) }));
    await raw.zadd(email.deadOrder, 2, 'hostile-dead');
    const letter = await client.deadLetters.queue('email').get('hostile-dead');
    expect(letter!.errors.map((e) => e.message)).toEqual(['m9997', 'm9999', 'last']);
    await raw.hset(email.deadInfo, 'hostile-dead', JSON.stringify({ reason: 'attempts_exhausted', attempts: 1, diedAt: 2, error: last, earlier: 'x' }));
    expect((await client.deadLetters.queue('email').get('hostile-dead'))!.errors).toHaveLength(1);
    const shown = await cli(['dead', 'show', 'hostile-dead', '--json']);
    expect(shown.code).toBe(0);
    expect((JSON.parse(shown.stdout) as { errors: unknown[] }).errors).toHaveLength(1);
  });

  it('the scripts move a hostile record into the history capped, each entry of its type and bounded', async () => {
    const day = '2026-01-05';
    const gate = deferred();
    const started = new Set<number>();
    plans.set(day, { gate: new Map([[1, gate.promise]]), started });
    const { id } = await client.enqueue('buildDailyReport', { day }, { attempts: 2 });
    await waitFor(() => started.has(1), 'attempt 1 to start');
    // While attempt 1 runs, someone writes a hostile record: a huge message and stack, a list of 10,000 entries of
    // every shape, fields of the wrong types, numbers cjson reads as infinite.
    const huge = 'é"\u0001/'.repeat(50_000);
    const earlier = [
      ...Array.from({ length: 10_000 }, (_, i) => i),
      'string',
      null,
      { message: 'nested', name: { deep: [1, 2] }, attempt: 'x', at: 'y', stack: { s: 1 } },
      { message: huge, stack: huge, name: huge, attempt: 1e400, at: -1e400 },
    ];
    await raw.hset(reports.errors, id, `{"name":"Hostile","message":${JSON.stringify(huge)},"stack":${JSON.stringify(huge)},"at":1e400,"earlier":${JSON.stringify(earlier).replace('"attempt":null', '"attempt":1e400')}}`);
    gate.resolve();
    // Attempt 1 fails: reschedule.lua moves the hostile record into "earlier".
    await waitFor(() => started.has(2), 'attempt 2 to start', 30_000);
    await waitFor(async () => (await client.getJob(id)).state === 'dead', 'the job to die', 30_000);
    const infoJson = (await raw.hget(reports.deadInfo, id)) ?? '';
    const info = JSON.parse(infoJson) as { error: { attempt: number }; earlier: Record<string, unknown>[] };
    expect(info.error.attempt).toBe(2);
    expect(info.earlier.length).toBeLessThanOrEqual(MAX_EARLIER_ERRORS);
    for (const e of info.earlier) {
      expect(Buffer.byteLength(JSON.stringify(e))).toBeLessThanOrEqual(MAX_EARLIER_ERROR_BYTES);
      expect(typeof e['message']).toBe('string');
      expect(typeof e['name']).toBe('string');
      expect(typeof e['at']).toBe('number');
    }
    // The entries that were error objects, oldest first: the nested one, the huge one (cut), the hostile record
    // itself (cut), then attempt 1's error.
    expect(info.earlier.map((e) => (e['message'] as string).slice(0, 6))).toEqual(['nested', huge.slice(0, 6), huge.slice(0, 6), messageOf(day, 1).slice(0, 6)]);
    const errors = (await client.getJob(id)).errors;
    expect(errors).toHaveLength(MAX_EARLIER_ERRORS + 1);
    expect(errors.map((e) => e.attempt)).toEqual([undefined, undefined, undefined, 1, 2]);
    expect(errors[1]!.message).toContain('[truncated]');
  });
});
