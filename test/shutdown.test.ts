/**
 * Graceful shutdown: close() stops fetching, waits up to shutdownTimeoutMs for running handlers, then aborts the
 * rest and hands every unfinished job (running or only prefetched) back to its queue at once, with its attempt
 * given back, so another worker runs it without waiting for a lease to expire.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, ShutdownError, type Handler, type WorkerOptions } from '../src/index.js';
import { childJobs } from './fixtures/child-jobs.js';
import { aborted, cleanupRegistry, deferred, queueCounts, redisUrl, spawnChildWorker, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  task: { payload: z.object({ n: z.number() }), attempts: 3 },
});

/** Long enough that only a hand-back, never a lease expiry, can explain a job being free again within a test. */
const LONG_LEASE_MS = 60_000;

const defer = cleanupRegistry();

function setup(name: string) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const startWorker = (task: Handler<{ n: number }, 'task'>, options: Omit<WorkerOptions, 'queues'> = {}) => {
    const worker = createWorker(jobs, { task }, { redis: redisUrl(), prefix, logger: false, leaseMs: LONG_LEASE_MS, ...options });
    defer(() => worker.close());
    return worker;
  };
  return { prefix, client, raw, k: queueKeys(prefix, 'default'), startWorker };
}

describe('worker.close()', () => {
  it('aborts a job still running after shutdownTimeoutMs and hands it back at once, attempt given back', async () => {
    const { client, raw, k, startWorker } = setup('shutdown-abort');
    const started = deferred();
    const reasons: unknown[] = [];
    const events: string[] = [];
    const first = startWorker(
      async (_p, ctx) => {
        started.resolve();
        const reason = await aborted(ctx.signal);
        reasons.push(reason);
        throw reason;
      },
      { shutdownTimeoutMs: 100 },
    );
    for (const e of ['failed', 'retrying', 'dead', 'completed'] as const) first.on(e, () => events.push(e));
    const { id } = await client.enqueue('task', { n: 1 });
    await started.promise;
    await first.close();

    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(ShutdownError);
    const job = await client.getJob(id);
    expect(job.state).toBe('waiting');
    expect(job.attempts).toBe(0);
    expect(job.lastError).toBeUndefined();
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 1, active: 0, attempts: 0, errors: 0, scheduled: 0 });

    const attempts: number[] = [];
    startWorker(async (_p, ctx) => void attempts.push(ctx.attempt));
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete on the next worker');
    expect(attempts).toEqual([1]);
    expect(events).toEqual([]);
  });

  it('waits for jobs that finish within shutdownTimeoutMs and records them completed', async () => {
    const { client, startWorker } = setup('shutdown-wait');
    const started = deferred();
    const finish = deferred();
    let aborts = 0;
    const completed: string[] = [];
    const worker = startWorker(
      async (_p, ctx) => {
        ctx.signal.addEventListener('abort', () => aborts++);
        started.resolve();
        await finish.promise;
      },
      { shutdownTimeoutMs: 10_000 },
    );
    worker.on('completed', (e) => completed.push(e.job.id));
    const { id } = await client.enqueue('task', { n: 1 });
    await started.promise;

    const closing = worker.close();
    expect(worker.running).toBe(1);
    // Enqueued while closing: this worker must not start it.
    const late = await client.enqueue('task', { n: 2 });
    finish.resolve();
    await closing;

    expect(aborts).toBe(0);
    expect(completed).toEqual([id]);
    const job = await client.getJob(id);
    expect(job.state).toBe('completed');
    expect(job.attempts).toBe(1);
    expect((await client.getJob(late.id)).state).toBe('waiting');
  });

  it('hands back prefetched jobs that never started, with no attempt spent', async () => {
    const { client, raw, k, startWorker } = setup('shutdown-prefetch');
    const started: number[] = [];
    const first = startWorker(
      async ({ n }, ctx) => {
        started.push(n);
        await aborted(ctx.signal);
        throw ctx.signal.reason;
      },
      { concurrency: 1, prefetch: 3, shutdownTimeoutMs: 50 },
    );
    const ids = (await client.enqueueMany('task', [1, 2, 3, 4].map((n) => ({ n })))).map((r) => r.id);
    await waitFor(async () => started.length === 1 && (await raw.zcount(k.active, '-inf', '(+inf')) === 4, 'one running and three prefetched');
    await first.close();

    expect(started).toEqual([1]);
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 4, active: 0, attempts: 0, scheduled: 0, jobs: 4 });
    for (const id of ids) expect((await client.getJob(id)).attempts).toBe(0);

    const runs: { n: number; attempt: number }[] = [];
    startWorker(async ({ n }, ctx) => void runs.push({ n, attempt: ctx.attempt }));
    await waitFor(() => runs.length === 4, 'all four jobs on the next worker');
    expect(runs.map((r) => r.attempt)).toEqual([1, 1, 1, 1]);
    expect(runs.map((r) => r.n).sort()).toEqual([1, 2, 3, 4]);
  });

  it('hands jobs back in their queue order (oldest first)', async () => {
    const { client, startWorker } = setup('shutdown-order');
    const first = startWorker(
      async (_p, ctx) => {
        await aborted(ctx.signal);
        throw ctx.signal.reason;
      },
      { concurrency: 1, prefetch: 3, shutdownTimeoutMs: 50 },
    );
    // 1 runs, 2-4 are prefetched, 5-6 stay in the queue.
    await client.enqueueMany('task', [1, 2, 3, 4].map((n) => ({ n })));
    await waitFor(() => first.running === 1, 'the first job to start');
    await client.enqueueMany('task', [5, 6].map((n) => ({ n })));
    await first.close();

    const order: number[] = [];
    startWorker(async ({ n }) => void order.push(n), { concurrency: 1, prefetch: 0 });
    await waitFor(() => order.length === 6, 'all six jobs');
    expect(order).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('is idempotent: both calls wait for the running handler, which completes; nothing stays leased', async () => {
    // A worker that never got a job always has 0 running: give it one, close it twice while the handler runs.
    const { client, raw, k, startWorker } = setup('shutdown-idle');
    const gate = deferred();
    const worker = startWorker(async () => gate.promise);
    const { id } = await client.enqueue('task', { n: 1 });
    await waitFor(() => worker.running === 1, 'the job to start');
    const a = worker.close();
    const b = worker.close();
    expect(a).toBe(b);
    let closed = false;
    void a.then(() => (closed = true));
    await waitFor(async () => (await client.getJob(id)).state === 'active', 'the job to be active');
    expect(closed).toBe(false);
    expect(worker.running).toBe(1);
    gate.resolve();
    await a;
    expect(worker.running).toBe(0);
    expect((await client.getJob(id)).state).toBe('completed');
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, active: 0, attempts: 0 });
  });

  it('closes an idle worker', async () => {
    const { startWorker } = setup('shutdown-idle2');
    const worker = startWorker(async () => {});
    await worker.close();
    expect(worker.running).toBe(0);
  });

  it('leaves no job leased when it closes while idle, even with jobs arriving during close', async () => {
    // An idle worker of one queue parks a fetch behind its blocking read. By the time an enqueue is answered,
    // Redis has woken that read and run the fetch, whose answer may still be on its way when close() starts: it
    // must be received and the job handed back (or run), never left leased. (Whether an answer is in flight at that
    // moment depends on scheduling, so this exercises the race rather than forcing it every round.)
    const { client, raw, k, startWorker } = setup('shutdown-parked');
    let ran = 0;
    for (let round = 0; round < 20; round++) {
      const worker = startWorker(async () => {
        ran++;
      });
      await new Promise((resolve) => setTimeout(resolve, 50)); // idle, blocked
      if (round % 2 === 0) {
        await client.enqueue('task', { n: round });
        await worker.close();
      } else {
        await Promise.all([client.enqueue('task', { n: round }), worker.close()]);
      }
      const counts = await queueCounts(raw, k);
      expect(counts.active).toBe(0);
      // Every job sent so far either ran or waits for the next worker, attempt intact.
      expect(counts.wait + ran).toBe(round + 1);
      expect(counts.attempts).toBe(0);
    }
  });
});

describe('SIGTERM when the worker owns the process (handleSignals)', () => {
  it('closes gracefully: the running job is handed back and the process exits 0', async () => {
    const { prefix, client, raw } = testClient(childJobs, 'shutdown-sigterm', defer);
    const { id } = await client.enqueue('work', { n: 1 });
    const child = spawnChildWorker(
      { JC_PREFIX: prefix, JC_HANDLE_SIGNALS: '1', JC_SHUTDOWN_MS: '100', JC_LEASE_MS: String(LONG_LEASE_MS) },
      defer,
    );
    await child.waitStarted(1);
    expect(await child.signal('SIGTERM')).toEqual({ code: 0, signal: null });
    const job = await client.getJob(id);
    expect(job.state).toBe('waiting');
    expect(job.attempts).toBe(0);
  });
});
