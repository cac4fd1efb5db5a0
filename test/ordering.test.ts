/**
 * Which job runs next: higher priorities first (FIFO within a priority), delayed jobs (delay / runAt) only once
 * due, and every queue of a worker served while it has free slots.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type WorkerOptions } from '../src/index.js';
import { cleanupRegistry, deferred, queueCounts, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  task: { payload: z.object({ label: z.string() }), attempts: 2, backoff: { type: 'fixed', delay: 10 } },
  urgent: { payload: z.object({ label: z.string() }), priority: 3 },
  other: { payload: z.object({ label: z.string() }), queue: 'other' },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const order: string[] = [];
  const ranAt = new Map<string, number>();
  const failOnce = new Set<string>();
  let gate: Promise<void> = Promise.resolve();
  const run = async ({ label }: { label: string }) => {
    order.push(label);
    ranAt.set(label, Date.now());
    if (failOnce.delete(label)) throw new Error(`${label} fails once`);
    await gate;
  };
  const startWorker = (options: Omit<WorkerOptions, 'queues'> = {}) => {
    const worker = createWorker(jobs, { task: run, urgent: run, other: run }, { redis: redisUrl(), prefix, logger: false, leaseMs: 1000, ...options });
    defer(() => worker.close());
    return worker;
  };
  /** Makes handlers wait from now on; the returned function lets the waiting ones and all later ones through. */
  const hold = () => {
    const d = deferred();
    gate = d.promise;
    return () => {
      gate = Promise.resolve();
      d.resolve();
    };
  };
  return { prefix, client, raw, order, ranAt, failOnce, startWorker, hold, k: queueKeys(prefix, 'default') };
}

const labels = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ label: `${prefix}${i}` }));

describe('priority', () => {
  it('fetches higher-priority jobs first, FIFO within a level, whatever the enqueue order', async () => {
    const { client, order, startWorker } = setup('prio-order');
    await client.enqueueMany('task', labels('low', 3), { priority: -2 });
    await client.enqueueMany('task', labels('plain', 5));
    await client.enqueueMany('task', labels('high', 3), { priority: 5 });
    await client.enqueueMany('task', labels('top', 2), { priority: 10 });
    await client.enqueue('urgent', { label: 'urgent0' }); // priority 3 from its definition
    startWorker({ concurrency: 1, prefetch: 0 });
    await waitFor(() => order.length === 14, 'all jobs');
    expect(order).toEqual(['top0', 'top1', 'high0', 'high1', 'high2', 'urgent0', 'plain0', 'plain1', 'plain2', 'plain3', 'plain4', 'low0', 'low1', 'low2']);
  });

  it('runs higher-priority jobs enqueued later before the many low-priority jobs already waiting', async () => {
    const { client, order, startWorker, hold } = setup('prio-later');
    const release = hold();
    startWorker({ concurrency: 1, prefetch: 0 });
    await client.enqueue('task', { label: 'first' });
    await waitFor(() => order.length === 1, 'the first job to start');
    await client.enqueueMany('task', labels('low', 20));
    await client.enqueueMany('task', labels('high', 2), { priority: 1 });
    await client.enqueue('urgent', { label: 'urgent0' });
    release();
    await waitFor(() => order.length === 24, 'all jobs');
    expect(order.slice(0, 4)).toEqual(['first', 'urgent0', 'high0', 'high1']);
    expect(order.slice(4)).toEqual(labels('low', 20).map((l) => l.label));
  });

  it('keeps a priority across a retry', async () => {
    const { client, raw, k, order, failOnce, startWorker, hold } = setup('prio-retry');
    const release = hold();
    failOnce.add('high');
    startWorker({ concurrency: 1, prefetch: 0 });
    const high = await client.enqueue('task', { label: 'high' }, { priority: 7 });
    // At least: the failed first attempt's retry (10 ms later) may already have started by the time this polls.
    await waitFor(() => order.length >= 1, 'the first attempt');
    await client.enqueueMany('task', labels('plain', 4));
    // Whatever runs now waits at the gate until the retry is due, so the retry competes with the plain jobs.
    await waitFor(async () => {
      const j = await client.getJob(high.id);
      return j.state === 'active' || (j.state === 'retrying' && j.runAt!.getTime() <= Date.now());
    }, 'the retry to be due');
    release();
    await waitFor(() => order.length === 6, 'all jobs');
    expect(order.indexOf('high', 1)).toBeLessThanOrEqual(2);
    expect(order.filter((l) => l === 'high')).toHaveLength(2);
    // The last completions reach Redis within ACK_DELAY_MS of their handlers returning.
    await waitFor(async () => (await queueCounts(raw, k)).jobs === 0, 'the completions to be recorded');
    expect(await queueCounts(raw, k)).toMatchObject({ prio: 0, wait: 0, scheduled: 0, jobs: 0 });
  });
});

describe('delayed jobs', () => {
  it('reports state delayed with its due time, then runs it once due, never before', async () => {
    const { client, order, ranAt, startWorker } = setup('delay');
    startWorker();
    const before = Date.now();
    const { id } = await client.enqueue('task', { label: 'later' }, { delay: 400 });
    const info = await client.getJob(id);
    expect(info.state).toBe('delayed');
    expect(info.attempts).toBe(0);
    expect(info.runAt!.getTime()).toBeGreaterThanOrEqual(before + 400);
    expect(info.runAt!.getTime()).toBeLessThan(before + 400 + 5_000);

    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the delayed job to complete');
    expect(order).toEqual(['later']);
    expect(ranAt.get('later')!).toBeGreaterThanOrEqual(info.runAt!.getTime());
  });

  it('runs jobs in due order, not enqueue order, with immediate jobs first', async () => {
    const { client, order, startWorker } = setup('delay-order');
    startWorker({ concurrency: 1, prefetch: 0 });
    await client.enqueue('task', { label: 'c' }, { delay: 900 });
    await client.enqueue('task', { label: 'b' }, { delay: 450 });
    await client.enqueue('task', { label: 'a' });
    await waitFor(() => order.length === 3, 'all three jobs');
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('accepts runAt as a Date or epoch ms; a past runAt runs at once', async () => {
    const { client, order, ranAt, startWorker } = setup('runat');
    const due = Date.now() + 300;
    const future = await client.enqueue('task', { label: 'future' }, { runAt: new Date(due) });
    const epoch = await client.enqueue('other', { label: 'epoch' }, { runAt: due });
    const past = await client.enqueue('task', { label: 'past' }, { runAt: new Date(Date.now() - 60_000) });
    expect((await client.getJob(future.id)).state).toBe('delayed');
    expect((await client.getJob(epoch.id)).state).toBe('delayed');
    expect((await client.getJob(past.id)).state).toBe('waiting');
    startWorker();
    await waitFor(() => order.length === 3, 'all three jobs');
    expect(order[0]).toBe('past');
    expect(ranAt.get('future')!).toBeGreaterThanOrEqual(due);
    expect(ranAt.get('epoch')!).toBeGreaterThanOrEqual(due);
  });

  it('wakes an idle worker when a delayed job becomes due', async () => {
    const { client, order, startWorker } = setup('delay-idle');
    const worker = startWorker();
    // How each blocking read of the queue ended: woken by a token, or timed out (after 5 s) with nothing.
    const reads: ('woken' | 'timed out')[] = [];
    type Blocking = { blocking: { redis: { blpop: (...a: unknown[]) => Promise<unknown> } } };
    const { redis } = (worker as unknown as { fetchers: Map<string, Blocking> }).fetchers.get('default')!.blocking;
    const blpop = redis.blpop.bind(redis);
    redis.blpop = async (...a) => {
      const woke = await blpop(...a);
      reads.push(woke === null ? 'timed out' : 'woken');
      return woke;
    };
    // The worker goes idle (blocked on an empty queue) once it has run a probe job and found nothing else: an event.
    const probe = await client.enqueue('task', { label: 'probe' });
    await waitFor(async () => (await client.getJob(probe.id)).state === 'completed', 'the probe job');
    // An idle read may time out (after 5 s) before the delayed job exists, on a loaded machine: only the reads from
    // its enqueue on are about waking for it.
    const before = reads.length;
    const { id } = await client.enqueue('task', { label: 'wake' }, { delay: 200 });
    await waitFor(() => order.includes('wake'), 'the delayed job to start');
    // The read the job's fetch followed was woken (by the worker's due timer), not one that timed out.
    expect(reads.at(-1)).toBe('woken');
    expect(reads.slice(before)).not.toContain('timed out');
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the delayed job');
    expect(order).toEqual(['probe', 'wake']);
  });

  it('keeps a delayed job with a priority in its level once due', async () => {
    const { client, order, startWorker, hold } = setup('delay-prio');
    const release = hold();
    startWorker({ concurrency: 1, prefetch: 0 });
    await client.enqueue('task', { label: 'blocker' });
    await waitFor(() => order.length === 1, 'the blocker to start');
    const delayed = await client.enqueue('task', { label: 'delayed-high' }, { delay: 50, priority: 9 });
    await client.enqueueMany('task', labels('plain', 3));
    await waitFor(async () => (await client.getJob(delayed.id)).runAt!.getTime() <= Date.now(), 'the delayed job to be due');
    release();
    await waitFor(() => order.length === 5, 'all jobs');
    expect(order[1]).toBe('delayed-high');
  });
});

describe('a worker serving several queues', () => {
  it('starts jobs of every queue while it has free slots', async () => {
    const { client, order, startWorker, hold } = setup('queues-share');
    const release = hold();
    startWorker({ concurrency: 4 });
    await client.enqueue('task', { label: 'default-queue' });
    await client.enqueue('other', { label: 'other-queue' });
    await waitFor(() => order.length === 2, 'both jobs to start while neither has finished');
    expect([...order].sort()).toEqual(['default-queue', 'other-queue']);
    release();
  });

  it('starts a job of another queue while a long job holds one slot, even when both were waiting at start', async () => {
    const { client, order, startWorker, hold } = setup('queues-start');
    const release = hold();
    await client.enqueue('task', { label: 'default-queue' });
    await client.enqueue('other', { label: 'other-queue' });
    startWorker({ concurrency: 4 });
    await waitFor(() => order.length === 2, 'both jobs to start while neither has finished');
    release();
  });
});

describe('concurrency', () => {
  it('runs at most `concurrency` handlers at once, and uses all of them', async () => {
    const { prefix, client, raw } = testClient(jobs, 'concurrency', defer);
    let running = 0;
    let peak = 0;
    let done = 0;
    const run = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      done++;
    };
    const worker = createWorker(jobs, { task: run, urgent: run, other: run }, { redis: redisUrl(), prefix, logger: false, concurrency: 3 });
    defer(() => worker.close());
    await client.enqueueMany('task', labels('t', 15));
    await client.enqueueMany('other', labels('o', 15));
    await waitFor(() => done === 30, 'all jobs');
    expect(peak).toBe(3);
  });
});
