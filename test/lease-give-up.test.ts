/**
 * A lease given up locally while it is still this worker's in Redis (here: the event loop stalls past the local
 * deadline). The handler sees `LeaseExpiredError` and returns early, work not done: that return must not be recorded
 * as a completion, and the give-up must not cost the job an attempt — it is handed back and runs again.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, LeaseExpiredError, type Logger } from '../src/index.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';

const LEASE_MS = 1_000;
const jobs = defineJobs({ t: { payload: z.object({ n: z.number() }), attempts: 1 } });
const defer = cleanupRegistry();

describe('a lease given up while still ours in Redis', () => {
  it('ignores what the handler returns afterwards and runs the job again with its attempt given back', async () => {
    const { prefix, client } = testClient(jobs, 'lease-give-up', defer);
    const runs: { attempt: number; sawAbort: unknown }[] = [];
    const infos: string[] = [];
    const logger: Logger = { debug: () => {}, info: (m) => void infos.push(m), warn: () => {}, error: () => {} };
    const completed: { id: string; attempt: number }[] = [];
    const failed: string[] = [];
    const w = createWorker(
      jobs,
      {
        t: async (_p, ctx) => {
          const run = { attempt: ctx.attempt, sawAbort: undefined as unknown };
          runs.push(run);
          if (runs.length > 1) return;
          // The first run stalls the event loop past the local lease deadline (leaseMs − margin after the fetch was
          // sent), but not past the lease in Redis, which nobody else can recover meanwhile.
          const until = performance.now() + LEASE_MS * 0.9;
          while (performance.now() < until) {
            // busy: no timer, no renewal answer can run
          }
          for (let i = 0; i < 50 && !ctx.signal.aborted; i++) await new Promise((r) => setTimeout(r, 20));
          // Honours its signal: stops early, its work not done.
          run.sawAbort = ctx.signal.reason;
        },
      },
      { redis: redisUrl(), prefix, leaseMs: LEASE_MS, concurrency: 1, logger },
    );
    defer(() => w.close());
    w.on('completed', (e) => void completed.push({ id: e.job.id, attempt: e.job.attempt }));
    w.on('failed', (e) => void failed.push(e.job.id));

    const { id } = await client.enqueue('t', { n: 1 });
    await waitFor(() => completed.length > 0, 'the job to complete');
    await w.close();

    expect(runs).toHaveLength(2);
    expect(runs[0]?.sawAbort).toBeInstanceOf(LeaseExpiredError);
    // Both runs were attempt 1: the give-up gave its attempt back (attempts: 1 would otherwise dead-letter it).
    expect(runs.map((r) => r.attempt)).toEqual([1, 1]);
    expect(completed).toEqual([{ id, attempt: 1 }]);
    expect(failed).toEqual([]);
    expect((await client.getJob(id))?.state).toBe('completed');
    expect(infos.some((m) => m.includes(`job ${id} (t), given up when its lease could not be renewed in time, was handed back`))).toBe(true);
  });
});
