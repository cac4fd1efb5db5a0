/**
 * Retries: a thrown error schedules another attempt after the backoff; the last failure sends the job to the dead
 * letters with its error; PermanentError skips the remaining attempts; snooze runs again without spending one.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, PermanentError, queueKeys, type Handler, type JobInfo, type WorkerOptions } from '../src/index.js';
import { cleanupRegistry, deferred, queueCounts, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  flaky: { payload: z.object({ failTimes: z.number() }), attempts: 3, backoff: { type: 'fixed', delay: 20 } },
  slowRetry: { payload: z.object({}), attempts: 2, backoff: { type: 'fixed', delay: 300 } },
  doomed: { payload: z.object({ n: z.number() }), attempts: 3, backoff: { type: 'fixed', delay: 10 } },
  fragile: { payload: z.object({}), attempts: 5, backoff: { type: 'fixed', delay: 10 } },
  sleepy: { payload: z.object({ naps: z.number() }), attempts: 1 },
  expo: { payload: z.object({}), attempts: 5, backoff: { type: 'exponential', delay: 10, maxDelay: 35, jitter: false } },
});
type Jobs = typeof jobs;
type Handlers = { [N in keyof Jobs['definitions']]: Handler<z.output<Jobs['definitions'][N]['payload']>, N> };

const defer = cleanupRegistry();
const noop = async (): Promise<void> => {};

function setup(name: string) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const startWorker = (handlers: Partial<Handlers>, options: Omit<WorkerOptions, 'queues'> = {}) => {
    const all: Handlers = { flaky: noop, slowRetry: noop, doomed: noop, fragile: noop, sleepy: noop, expo: noop, ...handlers };
    const worker = createWorker(jobs, all, { redis: redisUrl(), prefix, logger: false, leaseMs: 1000, ...options });
    defer(() => worker.close());
    return worker;
  };
  const stateIs = (id: string, state: JobInfo['state']) =>
    waitFor(async () => {
      const j = await client.getJob(id);
      return j.state === state ? j : undefined;
    }, `job ${id} to be ${state}`);
  return { prefix, client, raw, k: queueKeys(prefix, 'default'), startWorker, stateIs };
}

describe('retry then success', () => {
  it('runs again with a growing ctx.attempt and shows the last error while retrying', async () => {
    const { client, raw, k, startWorker, stateIs } = setup('retry-ok');
    const attempts: number[] = [];
    const contexts: { enqueuedAt: number; maxAttempts: number; name: string }[] = [];
    const seenWhileRunning: JobInfo[] = [];
    startWorker({
      flaky: async ({ failTimes }, ctx) => {
        attempts.push(ctx.attempt);
        contexts.push({ enqueuedAt: ctx.enqueuedAt.getTime(), maxAttempts: ctx.maxAttempts, name: ctx.name });
        seenWhileRunning.push(await client.getJob(ctx.id));
        if (ctx.attempt <= failTimes) throw new Error(`failure #${ctx.attempt}`);
      },
    });
    const before = Date.now();
    const { id } = await client.enqueue('flaky', { failTimes: 2 });
    const after = Date.now();
    const done = await stateIs(id, 'completed');
    expect(attempts).toEqual([1, 2, 3]);
    expect(new Set(contexts.map((c) => JSON.stringify(c))).size).toBe(1);
    expect(contexts[0]).toMatchObject({ maxAttempts: 3, name: 'flaky' });
    expect(contexts[0]!.enqueuedAt).toBeGreaterThanOrEqual(before);
    expect(contexts[0]!.enqueuedAt).toBeLessThanOrEqual(after);
    expect(done.attempts).toBe(3);
    expect(seenWhileRunning.map((j) => [j.state, j.attempts, j.maxAttempts, j.lastError?.message])).toEqual([
      ['active', 1, 3, undefined],
      ['active', 2, 3, 'failure #1'],
      ['active', 3, 3, 'failure #2'],
    ]);
    expect(seenWhileRunning[2]?.lastError).toMatchObject({ name: 'Error', attempt: 2, stack: expect.stringContaining('failure #2') });
    expect(await queueCounts(raw, k)).toMatchObject({ scheduled: 0, active: 0, jobs: 0, attempts: 0, errors: 0, dead: 0 });
  });

  it('reports state retrying, the last error and the due time between attempts', async () => {
    const { client, startWorker, stateIs } = setup('retry-state');
    const first = startWorker({
      slowRetry: async () => {
        throw new Error('try later');
      },
    });
    const retrying = deferred();
    first.on('retrying', () => {
      retrying.resolve();
      void first.close(); // nobody runs the next attempt until we look
    });
    const before = Date.now();
    const { id } = await client.enqueue('slowRetry', {});
    await retrying.promise;
    await first.close();

    const job = await client.getJob(id);
    expect(job.state).toBe('retrying');
    expect(job.attempts).toBe(1);
    expect(job.lastError).toMatchObject({ name: 'Error', message: 'try later', attempt: 1 });
    expect(job.runAt?.getTime()).toBeGreaterThan(before);

    const attempts: number[] = [];
    startWorker({ slowRetry: async (_p, ctx) => void attempts.push(ctx.attempt) });
    const done = await stateIs(id, 'completed');
    expect(attempts).toEqual([2]);
    expect(done.attempts).toBe(2);
  });
});

describe('retry exhaustion', () => {
  it('sends the job to the dead letters after the last attempt, keeping attempts, message and stack', async () => {
    const { client, raw, k, startWorker, stateIs } = setup('retry-dead');
    class UpstreamError extends Error {
      override name = 'UpstreamError';
    }
    const attempts: number[] = [];
    startWorker({
      doomed: async ({ n }, ctx) => {
        attempts.push(ctx.attempt);
        throw new UpstreamError(`upstream refused #${n}/${ctx.attempt}`);
      },
    });
    const { id } = await client.enqueue('doomed', { n: 7 });
    const info = await stateIs(id, 'dead');
    expect(attempts).toEqual([1, 2, 3]);
    expect(info.attempts).toBe(3);
    expect(info.deadReason).toBe('attempts_exhausted');
    expect(info.lastError?.name).toBe('UpstreamError');
    expect(info.lastError?.message).toBe('upstream refused #7/3');

    const [letter] = await client.deadLetters.list('default');
    expect(letter).toMatchObject({ id, name: 'doomed', payload: { n: 7 }, reason: 'attempts_exhausted', attempts: 3 });
    expect(letter?.error.message).toBe('upstream refused #7/3');
    expect(letter?.error.stack).toContain('UpstreamError: upstream refused #7/3');
    expect(letter?.error.stack).toContain('retries.test.ts');
    expect(letter?.diedAt.getTime()).toBeGreaterThan(0);
    expect(await queueCounts(raw, k)).toMatchObject({ scheduled: 0, active: 0, jobs: 0, attempts: 0, errors: 0, dead: 1 });
  });

  it('honours an attempts override given at enqueue', async () => {
    const { client, startWorker, stateIs } = setup('retry-override');
    let runs = 0;
    startWorker({
      doomed: async () => {
        runs++;
        throw new Error('no');
      },
    });
    const { id } = await client.enqueue('doomed', { n: 1 }, { attempts: 1 });
    const info = await stateIs(id, 'dead');
    expect(info.attempts).toBe(1);
    expect(info.maxAttempts).toBe(1);
    expect(runs).toBe(1);
  });

  it('records a thrown non-Error value readably', async () => {
    const { client, startWorker, stateIs } = setup('retry-nonerror');
    startWorker({
      doomed: async () => {
        throw 'plain string'; // eslint-disable-line no-throw-literal
      },
    });
    const { id } = await client.enqueue('doomed', { n: 1 }, { attempts: 1 });
    const info = await stateIs(id, 'dead');
    expect(info.lastError?.message).toContain('plain string');
  });
});

describe('PermanentError', () => {
  it('skips the remaining attempts', async () => {
    const { client, startWorker, stateIs } = setup('permanent');
    const events: string[] = [];
    let runs = 0;
    const worker = startWorker({
      fragile: async () => {
        runs++;
        throw new PermanentError('account closed');
      },
    });
    worker.on('failed', (e) => events.push(`failed willRetry=${e.willRetry}`));
    worker.on('retrying', () => events.push('retrying'));
    worker.on('dead', (e) => events.push(`dead ${e.reason}`));
    const { id } = await client.enqueue('fragile', {});
    const info = await stateIs(id, 'dead');
    expect(runs).toBe(1);
    expect(info.attempts).toBe(1);
    expect(info.deadReason).toBe('permanent_error');
    expect(info.lastError).toMatchObject({ name: 'PermanentError', message: 'account closed' });
    await waitFor(() => events.length === 2, 'events');
    expect(events).toEqual(['failed willRetry=false', 'dead permanent_error']);
  });

  it('works for subclasses too', async () => {
    const { client, startWorker, stateIs } = setup('permanent-sub');
    class NotFound extends PermanentError {
      override name = 'NotFound';
    }
    let runs = 0;
    startWorker({
      fragile: async () => {
        runs++;
        throw new NotFound('gone');
      },
    });
    const { id } = await client.enqueue('fragile', {});
    const info = await stateIs(id, 'dead');
    expect(runs).toBe(1);
    expect(info.deadReason).toBe('permanent_error');
    expect(info.lastError?.name).toBe('NotFound');
  });
});

describe('snooze', () => {
  it('runs the job again without spending an attempt', async () => {
    const { client, raw, k, startWorker, stateIs } = setup('snooze');
    const seen: { attempt: number; run: number }[] = [];
    let failed = 0;
    let run = 0;
    const worker = startWorker({
      // One attempt only: two snoozes would exhaust it if they counted.
      sleepy: async ({ naps }, ctx) => {
        run++;
        seen.push({ attempt: ctx.attempt, run });
        if (run <= naps) ctx.snooze(20);
      },
    });
    worker.on('failed', () => failed++);
    const { id } = await client.enqueue('sleepy', { naps: 2 });
    const done = await stateIs(id, 'completed');
    expect(seen).toEqual([
      { attempt: 1, run: 1 },
      { attempt: 1, run: 2 },
      { attempt: 1, run: 3 },
    ]);
    expect(done.attempts).toBe(1);
    expect(failed).toBe(0);
    expect(await client.deadLetters.count('default')).toBe(0);
    expect(await queueCounts(raw, k)).toMatchObject({ scheduled: 0, active: 0, jobs: 0, attempts: 0, errors: 0 });
  });

  it('shows the job as delayed with attempts unspent while it sleeps', async () => {
    const { client, startWorker } = setup('snooze-state');
    const snoozed = deferred();
    startWorker({
      sleepy: async (_p, ctx) => {
        snoozed.resolve();
        ctx.snooze('1h');
      },
    });
    const { id } = await client.enqueue('sleepy', { naps: 1 });
    await snoozed.promise;
    const job = await waitFor(async () => {
      const j = await client.getJob(id);
      return j.state !== 'active' ? j : undefined;
    }, 'the snooze to be recorded');
    expect(job.state).toBe('delayed');
    expect(job.attempts).toBe(0);
    expect(job.runAt!.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
  });
});

describe('backoff', () => {
  it('doubles the delay per attempt up to maxDelay (no jitter)', async () => {
    const { client, startWorker, stateIs } = setup('backoff');
    const delays: number[] = [];
    const worker = startWorker({
      expo: async () => {
        throw new Error('again');
      },
    });
    worker.on('retrying', (e) => delays.push(e.delayMs));
    const { id } = await client.enqueue('expo', {});
    await stateIs(id, 'dead');
    expect(delays).toEqual([10, 20, 35, 35]);
  });
});
