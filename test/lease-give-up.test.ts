/**
 * A lease given up locally while it is still this worker's in Redis. The handler sees `LeaseExpiredError` and returns
 * early, work not done: that return must never be recorded as a completion. What the give-up costs depends on why:
 * - Redis did not confirm a renewal in time (slow, or unreachable: here a proxy holds the worker's traffic) while the
 *   process ran on time: not the job's fault, so it is handed back with its attempt given back.
 * - This process stalled past the deadline (a handler blocking the event loop; noticed over max(margin / 4, 250 ms)
 *   late): counted like a crash, so a job that stalls its worker every time dies after its attempts instead of being
 *   handed back forever.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, LeaseExpiredError, type Logger } from '../src/index.js';
import { startRedisServer } from '../scripts/redis-server.js';
import { cleanupRegistry, testClient, redisUrl, waitFor } from './helpers.js';
import { startTcpProxy } from './tcp-proxy.js';

const LEASE_MS = 5_000;
const defer = cleanupRegistry();

function recorder() {
  const infos: string[] = [];
  const logger: Logger = { debug: () => {}, info: (m) => void infos.push(m), warn: () => {}, error: () => {} };
  return { infos, logger };
}

describe('a lease given up while still ours in Redis', () => {
  it('Redis late, process on time: ignores what the handler returns afterwards; the job runs again with its attempt given back', async () => {
    const server = await startRedisServer();
    defer(() => server.stop());
    const proxy = await startTcpProxy(server.port);
    defer(() => proxy.close());
    const jobs = defineJobs({ t: { payload: z.object({ n: z.number() }), attempts: 1 } });
    const { client, prefix } = testClient(jobs, 'lease-give-up-redis', defer, server.url);
    const { infos, logger } = recorder();
    const runs: { attempt: number; sawAbort: unknown }[] = [];
    const completed: { id: string; attempt: number }[] = [];
    const failed: string[] = [];
    const w = createWorker(
      jobs,
      {
        t: async (_p, ctx) => {
          const run = { attempt: ctx.attempt, sawAbort: undefined as unknown };
          runs.push(run);
          if (runs.length > 1) return;
          // Redis stops answering this worker (its renewals wait in the proxy) for less than the lease: the local
          // deadline (lease − margin) passes on time, the lease in Redis does not.
          proxy.hold();
          setTimeout(() => proxy.resume(), LEASE_MS * 0.85);
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
          // Honours its signal: stops early, its work not done.
          run.sawAbort = ctx.signal.reason;
        },
      },
      { redis: proxy.url, prefix, leaseMs: LEASE_MS, concurrency: 1, prefetch: 0, logger },
    );
    defer(() => w.close());
    w.on('completed', (e) => void completed.push({ id: e.job.id, attempt: e.job.attempt }));
    w.on('failed', (e) => void failed.push(e.job.id));

    const { id } = await client.enqueue('t', { n: 1 });
    await waitFor(() => completed.length > 0, 'the job to complete', 30_000);
    await w.close();

    expect(runs).toHaveLength(2);
    expect(runs[0]?.sawAbort).toBeInstanceOf(LeaseExpiredError);
    // Both runs were attempt 1: the give-up gave its attempt back (attempts: 1 would otherwise dead-letter it).
    expect(runs.map((r) => r.attempt)).toEqual([1, 1]);
    expect(completed).toEqual([{ id, attempt: 1 }]);
    expect(failed).toEqual([]);
    expect((await client.getJob(id))?.state).toBe('completed');
    expect(infos.some((m) => m.includes(`job ${id} (t), given up when its lease could not be renewed in time, was handed back`))).toBe(true);
  }, 60_000);

  it('process stalled: the early return is not a completion, and the attempt counts (a job that always stalls dies)', async () => {
    const jobs = defineJobs({ t: { payload: z.object({ n: z.number() }), attempts: 2, backoff: { type: 'fixed', delay: 10 } } });
    const { client, prefix } = testClient(jobs, 'lease-give-up-stall', defer);
    const runs: { attempt: number; sawAbort: unknown }[] = [];
    const completed: { id: string; attempt: number }[] = [];
    const failed: { id: string; error: unknown }[] = [];
    const dead: string[] = [];
    const stall = (ctx: { signal: AbortSignal }): Promise<unknown> => {
      // Stalls the event loop well past the local deadline (lease − margin after the fetch was sent), but not past
      // the lease in Redis, which nobody else can recover meanwhile.
      const until = performance.now() + LEASE_MS * 0.9;
      while (performance.now() < until) {
        // busy: no timer, no renewal answer can run
      }
      return new Promise((resolve) => {
        if (ctx.signal.aborted) resolve(ctx.signal.reason);
        else ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason), { once: true });
      });
    };
    const w = createWorker(
      jobs,
      {
        t: async ({ n }, ctx) => {
          const run = { attempt: ctx.attempt, sawAbort: undefined as unknown };
          runs.push(run);
          // Job 1 stalls on its first attempt only; job 2 on every attempt.
          if (n === 2 || ctx.attempt === 1) run.sawAbort = await stall(ctx);
        },
      },
      { redis: redisUrl(), prefix, leaseMs: LEASE_MS, concurrency: 1, prefetch: 0, logger: false },
    );
    defer(() => w.close());
    w.on('completed', (e) => void completed.push({ id: e.job.id, attempt: e.job.attempt }));
    w.on('failed', (e) => void failed.push({ id: e.job.id, error: e.error }));
    w.on('dead', (e) => void dead.push(e.job.id));

    const one = await client.enqueue('t', { n: 1 });
    await waitFor(() => completed.length > 0, 'job 1 to complete', 30_000);
    expect(runs.map((r) => r.attempt)).toEqual([1, 2]);
    expect(runs[0]?.sawAbort).toBeInstanceOf(LeaseExpiredError);
    expect(completed).toEqual([{ id: one.id, attempt: 2 }]);
    expect(failed.map((f) => f.id)).toEqual([one.id]);
    expect(failed[0]?.error).toBeInstanceOf(LeaseExpiredError);

    const two = await client.enqueue('t', { n: 2 });
    await waitFor(() => dead.length > 0, 'job 2, which always stalls, to die', 30_000);
    expect(dead).toEqual([two.id]);
    expect((await client.getJob(two.id))?.state).toBe('dead');
    expect(completed.map((c) => c.id)).toEqual([one.id]);
  }, 60_000);
});
