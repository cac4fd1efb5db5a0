/**
 * Timeouts: when a job's `timeout` passes, its signal aborts with a TimeoutError and the attempt fails with it,
 * then the job is retried or dies as its attempts say. A late completion of a timed-out attempt is not recorded.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, TimeoutError, type JobInfo } from '../src/index.js';
import { aborted, cleanupRegistry, queueCounts, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  /** Waits for its signal on the attempts listed in `hangOn`, finishes at once otherwise. */
  hang: { payload: z.object({ hangOn: z.array(z.number()) }), timeout: 100, attempts: 2, backoff: { type: 'fixed', delay: 10 } },
  /** Ignores its signal and finishes late on attempt 1. */
  stubborn: { payload: z.object({}), timeout: 100, attempts: 2, backoff: { type: 'fixed', delay: 10 } },
  once: { payload: z.object({}), timeout: '100ms', attempts: 1 },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const stateIs = (id: string, state: JobInfo['state']) =>
    waitFor(async () => {
      const j = await client.getJob(id);
      return j.state === state ? j : undefined;
    }, `job ${id} to be ${state}`);
  return { prefix, client, raw, k: queueKeys(prefix, 'default'), stateIs };
}

describe('timeout', () => {
  it('aborts the signal with a TimeoutError, fails the attempt and retries', async () => {
    const { prefix, client, raw, k, stateIs } = setup('timeout-retry');
    const reasons: unknown[] = [];
    const failures: { attempt: number; error: unknown; willRetry: boolean }[] = [];
    const seenOnRetry: JobInfo[] = [];
    const worker = createWorker(
      jobs,
      {
        hang: async ({ hangOn }, ctx) => {
          if (ctx.attempt > 1) seenOnRetry.push(await client.getJob(ctx.id));
          if (!hangOn.includes(ctx.attempt)) return;
          const reason = await aborted(ctx.signal);
          reasons.push(reason);
          throw reason;
        },
        stubborn: async () => {},
        once: async () => {},
      },
      { redis: redisUrl(), prefix, logger: false, leaseMs: 1000 },
    );
    defer(() => worker.close());
    worker.on('failed', (e) => failures.push({ attempt: e.job.attempt, error: e.error, willRetry: e.willRetry }));

    const { id } = await client.enqueue('hang', { hangOn: [1] });
    const done = await stateIs(id, 'completed');
    expect(done.attempts).toBe(2);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(TimeoutError);
    expect((reasons[0] as TimeoutError).timeoutMs).toBe(100);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ attempt: 1, willRetry: true });
    expect(failures[0]?.error).toBeInstanceOf(TimeoutError);
    expect(seenOnRetry[0]?.lastError).toMatchObject({ name: 'TimeoutError', attempt: 1, message: expect.stringContaining('100 ms') });
    expect(await queueCounts(raw, k)).toMatchObject({ active: 0, scheduled: 0, jobs: 0, attempts: 0, errors: 0 });
  });

  it('sends the job to the dead letters with TimeoutError when every attempt times out', async () => {
    const { prefix, client, stateIs } = setup('timeout-dead');
    const worker = createWorker(
      jobs,
      {
        hang: async (_p, ctx) => {
          await aborted(ctx.signal);
          throw ctx.signal.reason;
        },
        stubborn: async () => {},
        once: async () => {},
      },
      { redis: redisUrl(), prefix, logger: false, leaseMs: 1000 },
    );
    defer(() => worker.close());
    const { id } = await client.enqueue('hang', { hangOn: [1, 2] });
    const info = await stateIs(id, 'dead');
    expect(info.attempts).toBe(2);
    expect(info.deadReason).toBe('attempts_exhausted');
    expect(info.lastError).toMatchObject({ name: 'TimeoutError', attempt: 2 });
    expect(info.lastError?.message).toContain('"hang"');
  });

  it('fails the attempt even when the handler ignores its signal; a late finish is not recorded', async () => {
    const { prefix, client, stateIs } = setup('timeout-stubborn');
    let lateFinishes = 0;
    const completed: number[] = [];
    const worker = createWorker(
      jobs,
      {
        hang: async () => {},
        stubborn: async (_p, ctx) => {
          if (ctx.attempt === 1) {
            await aborted(ctx.signal);
            await new Promise((r) => setTimeout(r, 50));
            lateFinishes++; // returns normally after the timeout
          }
        },
        once: async () => {},
      },
      { redis: redisUrl(), prefix, logger: false, leaseMs: 1000 },
    );
    defer(() => worker.close());
    worker.on('completed', (e) => completed.push(e.job.attempt));
    const { id } = await client.enqueue('stubborn', {});
    const info = await stateIs(id, 'completed');
    await waitFor(() => lateFinishes === 1, 'the late finish of attempt 1');
    expect(info.attempts).toBe(2);
    expect(completed).toEqual([2]);
  });

  it('with one attempt, a timeout is final', async () => {
    const { prefix, client, stateIs } = setup('timeout-once');
    let runs = 0;
    const worker = createWorker(
      jobs,
      {
        hang: async () => {},
        stubborn: async () => {},
        once: async (_p, ctx) => {
          runs++;
          await aborted(ctx.signal);
          throw ctx.signal.reason;
        },
      },
      { redis: redisUrl(), prefix, logger: false, leaseMs: 1000 },
    );
    defer(() => worker.close());
    const { id } = await client.enqueue('once', {});
    const info = await stateIs(id, 'dead');
    expect(runs).toBe(1);
    expect(info.lastError?.name).toBe('TimeoutError');
  });
});
