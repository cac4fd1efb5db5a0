/**
 * Flow control (issue 4): priorities within a queue, weighted and strict order between the queues of a worker,
 * pause and resume across worker processes. Concurrency caps and rate limits: test/throttling.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, JobDefinitionError, queueKeys, type JobSet, type WorkerOptions } from '../src/index.js';
import { flowJobs } from './fixtures/flow-jobs.js';
import { PROCESS_TEST_MS, PROCESS_WAIT_MS, recordedEvents, recordedStarts, startFlowWorkers } from './fixtures/flow-process.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();

const jobs = defineJobs({
  task: { payload: z.object({ n: z.number() }) },
  urgent: { payload: z.object({ n: z.number() }), priority: 5 },
  a: { payload: z.object({ n: z.number() }), queue: 'qa' },
  b: { payload: z.object({ n: z.number() }), queue: 'qb' },
  /** A throttled type with a low priority, next to an unthrottled one with a high priority. */
  metered: { payload: z.object({ n: z.number() }), queue: 'mixed', priority: -10, rateLimit: { max: 1000, per: '1s' } },
  vip: { payload: z.object({ n: z.number() }), queue: 'mixed', priority: 10 },
});

function setup<J extends JobSet>(name: string, set: J) {
  const { prefix, client, raw } = testClient(set, name, defer);
  return { prefix, client, raw };
}

/** A worker of `jobs` recording `<name>:<n>` of each job as it starts; handlers take `ms`. */
function recordingWorker(prefix: string, options: WorkerOptions<(typeof jobs.queues)[number]>, ms = 0) {
  const order: string[] = [];
  /** Per start: how many of each type ran at that moment (the slot shares, read at events rather than over time). */
  const shares: { a: number; b: number }[] = [];
  const running = new Map<string, number>();
  const maxRunning = new Map<string, number>();
  const run = async (name: string, n: number) => {
    order.push(`${name}:${n}`);
    running.set(name, (running.get(name) ?? 0) + 1);
    maxRunning.set(name, Math.max(maxRunning.get(name) ?? 0, running.get(name) as number));
    shares.push({ a: running.get('a') ?? 0, b: running.get('b') ?? 0 });
    if (ms > 0) await sleep(ms);
    running.set(name, (running.get(name) ?? 0) - 1);
  };
  const handlers = Object.fromEntries([...jobs.jobs.keys()].map((name) => [name, ({ n }: { n: number }) => run(name, n)]));
  const worker = createWorker(jobs, handlers as never, { redis: redisUrl(), prefix, logger: false, leaseMs: 1000, ...options });
  defer(() => worker.close());
  return { worker, order, maxRunning, shares };
}

describe('priority', () => {
  it('runs 10 high-priority jobs enqueued later before the remaining of 1,000 low-priority ones', async () => {
    const { prefix, client } = setup('prio-1000', jobs);
    await client.enqueueMany('task', Array.from({ length: 1000 }, (_, n) => ({ n })));
    const { order } = recordingWorker(prefix, { concurrency: 1, prefetch: 0 });
    await waitFor(() => order.length >= 20, 'some low-priority jobs to run');
    await client.enqueueMany('task', Array.from({ length: 10 }, (_, n) => ({ n: 1000 + n })), { priority: 10 });
    const ranBefore = order.length;
    await waitFor(() => order.filter((o) => Number(o.split(':')[1]) >= 1000).length === 10, 'the high-priority jobs to run');
    const first = order.findIndex((o) => Number(o.split(':')[1]) >= 1000);
    // At most the one job already leased when they were enqueued runs in between.
    expect(first).toBeLessThanOrEqual(ranBefore + 1);
    expect(order.slice(first, first + 10)).toEqual(Array.from({ length: 10 }, (_, i) => `task:${1000 + i}`));
    // The high-priority jobs overtook low-priority ones that were still waiting when they were enqueued.
    expect(ranBefore).toBeLessThan(1000 - 10);
  });

  it('orders by the type priority unless the enqueue call overrides it, FIFO within a level, from 1000 to -1000', async () => {
    const { prefix, client } = setup('prio-levels', jobs);
    await client.enqueue('task', { n: 1 }); // 0
    await client.enqueue('urgent', { n: 2 }); // 5, the type's
    await client.enqueue('task', { n: 3 }, { priority: 1000 });
    await client.enqueue('urgent', { n: 4 }, { priority: -5 });
    await client.enqueue('task', { n: 5 }, { priority: -1000 });
    await client.enqueue('task', { n: 6 }); // 0
    await client.enqueue('urgent', { n: 7 }); // 5
    const { order } = recordingWorker(prefix, { concurrency: 1, prefetch: 0, queues: ['default'] });
    await waitFor(() => order.length === 7, 'every job to run');
    expect(order).toEqual(['task:3', 'urgent:2', 'urgent:7', 'task:1', 'task:6', 'urgent:4', 'task:5']);
    await expect(client.enqueue('task', { n: 8 }, { priority: 1001 })).rejects.toThrow(/priority must be between -1000 and 1000/);
    expect(() => defineJobs({ x: { payload: z.object({}), priority: -1001 } })).toThrow(JobDefinitionError);
    expect(() => defineJobs({ x: { payload: z.object({}), priority: 1.5 } })).toThrow(JobDefinitionError);
  });

  it('a high-priority job runs before low-priority jobs of a throttled type in the same queue', async () => {
    const { prefix, client } = setup('prio-throttled', jobs);
    await client.enqueueMany('metered', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await client.enqueue('vip', { n: 4 });
    const { order } = recordingWorker(prefix, { concurrency: 1, prefetch: 0, queues: ['mixed'] });
    await waitFor(() => order.length === 4, 'every job to run');
    expect(order).toEqual(['vip:4', 'metered:1', 'metered:2', 'metered:3']);
  });
});

describe('a worker serving two queues', () => {
  it("queueOrder 'strict' takes from the second queue only while the first is empty", async () => {
    const { prefix, client } = setup('order-strict', jobs);
    await client.enqueueMany('b', Array.from({ length: 10 }, (_, n) => ({ n })));
    await client.enqueueMany('a', Array.from({ length: 10 }, (_, n) => ({ n })));
    const { order } = recordingWorker(prefix, { concurrency: 1, prefetch: 0, queues: ['qa', 'qb'], queueOrder: 'strict' }, 20);
    await waitFor(() => order.length >= 13, 'the first jobs of qb to run');
    expect(order.slice(0, 10).every((o) => o.startsWith('a:'))).toBe(true);
    // New jobs in qa go before the rest of qb (at most the qb job already leased runs in between).
    await client.enqueueMany('a', Array.from({ length: 5 }, (_, n) => ({ n: 100 + n })));
    const ranBefore = order.length;
    await waitFor(() => order.length === 25, 'every job to run');
    const firstNew = order.indexOf('a:100');
    expect(firstNew).toBeLessThanOrEqual(ranBefore + 1);
    expect(order.slice(firstNew, firstNew + 5)).toEqual(['a:100', 'a:101', 'a:102', 'a:103', 'a:104']);
    expect(order.slice(firstNew + 5).every((o) => o.startsWith('b:'))).toBe(true);
  });

  it("queueOrder 'weighted' (the default) shares the slots in proportion to queueWeights while both have jobs", async () => {
    const { prefix, client } = setup('order-weighted', jobs);
    await client.enqueueMany('a', Array.from({ length: 60 }, (_, n) => ({ n })));
    await client.enqueueMany('b', Array.from({ length: 60 }, (_, n) => ({ n })));
    const { order, maxRunning, shares } = recordingWorker(prefix, { concurrency: 4, prefetch: 0, queues: ['qa', 'qb'], queueWeights: { qa: 3 } }, 30);
    await waitFor(() => order.length >= 40, '40 jobs to start');
    // 3 of the 4 slots go to qa while both queues have jobs: at no start did either queue hold more than its share
    // (counts at events, so how fast the handlers ran does not matter), and qb is never starved.
    expect(shares.slice(0, 40).filter((s) => s.a > 3 || s.b > 1)).toEqual([]);
    expect(order.slice(0, 40).filter((o) => o.startsWith('b:')).length).toBeGreaterThanOrEqual(1);
    expect(maxRunning.get('a')).toBe(3);
    expect(maxRunning.get('b')).toBe(1);
  });

  it('with equal weights both queues get about half of the slots', async () => {
    const { prefix, client } = setup('order-equal', jobs);
    await client.enqueueMany('a', Array.from({ length: 60 }, (_, n) => ({ n })));
    await client.enqueueMany('b', Array.from({ length: 60 }, (_, n) => ({ n })));
    const { order, maxRunning, shares } = recordingWorker(prefix, { concurrency: 4, prefetch: 0, queues: ['qa', 'qb'] }, 30);
    await waitFor(() => order.length >= 40, '40 jobs to start');
    expect(shares.slice(0, 40).filter((s) => s.a > 2 || s.b > 2)).toEqual([]);
    expect(maxRunning.get('a')).toBe(2);
    expect(maxRunning.get('b')).toBe(2);
  });
});

describe('pause and resume', () => {
  it('pause stops two worker processes from leasing the queue at once (other queues run); resume restarts it', async () => {
    const { prefix, client, raw } = setup('pause', flowJobs);
    const k = queueKeys(prefix, 'pausable');
    const procs = await startFlowWorkers(prefix, 2, { queues: ['pausable', 'other'], concurrency: 2, slowMs: 100 }, defer);
    const ids = (await client.enqueueMany('slow', Array.from({ length: 40 }, (_, n) => ({ n })))).map((r) => r.id);
    await waitFor(async () => (await recordedStarts(raw, prefix, 'slow')).length >= 4, 'some jobs to start', PROCESS_WAIT_MS);

    await client.pause('pausable');
    // Right after pause returns: what any worker holds or has finished. Only these may ever have started.
    const [[, active], [, done]] = (await raw.multi().zrangebyscore(k.active, '-inf', '(+inf').hkeys(k.done).exec()) as [[null, string[]], [null, string[]]];
    const leasedBeforePause = new Set([...active, ...done]);
    expect(active.length).toBeLessThanOrEqual(4); // two processes × concurrency 2, no prefetch

    const others = (await client.enqueueMany('other', [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }])).map((r) => r.id);
    await waitFor(async () => (await Promise.all(others.map((id) => client.getJob(id)))).every((j) => j.state === 'completed'), 'the other queue to run', PROCESS_WAIT_MS);
    // Events instead of a pause: every job leased before the pause has ended, so each process has freed its slots and
    // gone back to fetching the paused queue (a broken pause would lease from it now); then one more round of the
    // other queue through both processes.
    await waitFor(async () => {
      const ends = new Set((await recordedEvents(raw, prefix, 'slow')).filter((e) => e.kind === 'e').map((e) => e.id));
      return active.every((id) => ends.has(id));
    }, 'the jobs leased before the pause to end', PROCESS_WAIT_MS);
    const more = (await client.enqueueMany('other', [{ n: 5 }, { n: 6 }, { n: 7 }, { n: 8 }])).map((r) => r.id);
    await waitFor(async () => (await Promise.all(more.map((id) => client.getJob(id)))).every((j) => j.state === 'completed'), 'the other queue to run again', PROCESS_WAIT_MS);
    const startedWhilePaused = (await recordedStarts(raw, prefix, 'slow')).map((s) => s.id);
    expect(startedWhilePaused.filter((id) => !leasedBeforePause.has(id))).toEqual([]);
    expect(startedWhilePaused.length).toBeLessThan(40);

    const fresh = createClient(flowJobs, { redis: redisUrl(), prefix });
    defer(() => fresh.close());
    expect(await fresh.isPaused('pausable')).toBe(true);
    expect(await fresh.isPaused('other')).toBe(false);
    const notStarted = ids.find((id) => !startedWhilePaused.includes(id)) as string;
    expect((await client.getJob(notStarted)).state).toBe('waiting');

    expect(await fresh.resume('pausable')).toBe(true);
    expect(await fresh.resume('pausable')).toBe(false);
    expect(await client.isPaused('pausable')).toBe(false);
    await waitFor(async () => (await Promise.all(ids.map((id) => client.getJob(id)))).every((j) => j.state === 'completed'), 'every job to run after resume', PROCESS_WAIT_MS);
    await Promise.all(procs.map((p) => p.stop()));
  }, PROCESS_TEST_MS);

  it('resume wakes a blocked worker for the waiting jobs, also when they are all of a throttled type', async () => {
    for (const name of ['vip', 'metered'] as const) {
      const { client, raw, prefix } = setup(`resume-wake-${name}`, jobs);
      const k = queueKeys(prefix, 'mixed');
      await client.pause('mixed');
      await client.enqueue(name, { n: 1 });
      expect(await raw.llen(k.notify), `${name}: a wake-up token while paused`).toBe(0);
      await client.resume('mixed');
      expect(await raw.llen(k.notify), `${name}: no wake-up token after resume`).toBe(1);
    }
  });
});
