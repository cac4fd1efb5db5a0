/**
 * Leases of live workers: a worker renews the leases of the jobs it runs and of those it prefetched, so a job that
 * outlives its lease is never taken over by another worker while its own worker is alive.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type Handler, type Worker } from '../src/index.js';
import { cleanupRegistry, deferred, queueCounts, redisUrl, testClient, waitFor } from './helpers.js';

/** Short enough for quick tests, long enough (renewal every third) that a loaded machine does not lose a lease. */
const LEASE_MS = 1500;

const jobs = defineJobs({
  long: { payload: z.object({ n: z.number() }), attempts: 3, backoff: { type: 'fixed', delay: 10 } },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const runs: { worker: string; n: number; attempt: number }[] = [];
  const failures: string[] = [];
  const startWorker = (label: string, long: Handler<{ n: number }, 'long'>, options: { concurrency?: number; prefetch?: number } = {}): Worker => {
    const worker = createWorker(
      jobs,
      {
        long: async (p, ctx) => {
          runs.push({ worker: label, n: p.n, attempt: ctx.attempt });
          await long(p, ctx);
        },
      },
      { redis: redisUrl(), prefix, logger: false, leaseMs: LEASE_MS, ...options },
    );
    worker.on('failed', (e) => failures.push(`${label}: ${(e.error as Error).name}`));
    defer(() => worker.close());
    return worker;
  };
  const k = queueKeys(prefix, 'default');
  /**
   * Resolves once the lease of `id` was renewed to at least `by` ms past the expiry it had when this was called, or
   * once any job ran a second time (a takeover; the test's assertions then fail). Events, not time: with renewal
   * broken this never resolves through the first branch, so another worker's recovery must take the job.
   */
  const untilRenewed = async (id: string, by: number): Promise<void> => {
    const first = Number(await raw.zscore(k.active, id));
    await waitFor(async () => runs.length > new Set(runs.map((r) => r.n)).size || Number(await raw.zscore(k.active, id)) >= first + by, `the lease of ${id} to be renewed`, 20_000);
  };
  return { prefix, client, raw, runs, failures, startWorker, untilRenewed, k };
}

describe('lease renewal', () => {
  it('keeps a job running longer than its lease with its worker, while another worker watches', async () => {
    const { client, raw, k, runs, failures, startWorker, untilRenewed } = setup('lease-long');
    // Runs until its lease was renewed two whole leases past its first expiry: b has had several recoveries meanwhile.
    startWorker('a', (_p, ctx) => untilRenewed(ctx.id, LEASE_MS * 2));
    const { id } = await client.enqueue('long', { n: 1 });
    await waitFor(() => runs.length === 1, 'the job to start');
    startWorker('b', async () => {});
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the long job to complete');
    expect(runs).toEqual([{ worker: 'a', n: 1, attempt: 1 }]);
    expect(failures).toEqual([]);
    expect(await queueCounts(raw, k)).toMatchObject({ active: 0, scheduled: 0, jobs: 0, attempts: 0, errors: 0 });
  });

  it('keeps prefetched jobs waiting longer than their lease with their worker', async () => {
    const { client, raw, k, runs, failures, startWorker, untilRenewed } = setup('lease-prefetch');
    // Each job runs until its lease was renewed one whole lease on, so job 3 waits two leases in the buffer.
    startWorker('a', (_p, ctx) => untilRenewed(ctx.id, LEASE_MS), { concurrency: 1, prefetch: 2 });
    await client.enqueueMany('long', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await waitFor(async () => runs.length === 1 && (await raw.zcount(k.active, '-inf', '(+inf')) === 3, 'one running, two prefetched');
    startWorker('b', async () => {});
    await waitFor(() => runs.length === 3, 'all three jobs', 20_000);
    await waitFor(async () => (await queueCounts(raw, k)).jobs === 0, 'all three to be acknowledged');
    expect(runs).toEqual([
      { worker: 'a', n: 1, attempt: 1 },
      { worker: 'a', n: 2, attempt: 1 },
      { worker: 'a', n: 3, attempt: 1 },
    ]);
    expect(failures).toEqual([]);
  });

  it("runs a job once when its own worker finds its lease expired while the job still runs", async () => {
    const { client, raw, k, runs, failures, startWorker } = setup('lease-own');
    const finish = deferred();
    const aborts: unknown[] = [];
    startWorker('a', async (_p, ctx) => {
      ctx.signal.addEventListener('abort', () => aborts.push(ctx.signal.reason));
      await finish.promise;
    });
    const { id } = await client.enqueue('long', { n: 1 });
    await waitFor(() => runs.length === 1, 'the job to start');
    // As if Redis had been out of reach for longer than the lease: the lease is found expired.
    await raw.zadd(k.active, 'XX', 0, id);
    await waitFor(async () => Number(await raw.zscore(k.active, id)) > Date.now(), 'the lease to be renewed or recovered');
    finish.resolve();
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete');
    expect(runs).toEqual([{ worker: 'a', n: 1, attempt: 1 }]);
    expect(aborts).toEqual([]);
    expect(failures).toEqual([]);
  });
});
