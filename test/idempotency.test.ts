/**
 * jobId as an idempotency key: while a job with that id is known (waiting, delayed, running, retrying, dead or
 * completed within retention) a second enqueue writes nothing and returns { id, duplicate: true }.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, queueKeys, type JobClient, type WorkerOptions } from '../src/index.js';
import { cleanupRegistry, deferred, deletePrefix, keysUnder, queueCounts, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  charge: { payload: z.object({ orderId: z.string(), cents: z.number() }), attempts: 2, backoff: { type: 'fixed', delay: 10 } },
  other: { payload: z.object({}), queue: 'elsewhere' },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const prefix = testPrefix(name);
  const client: JobClient<typeof jobs> = createClient(jobs, { redis: redisUrl(), prefix });
  const raw = rawRedis();
  defer(async () => {
    await client.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  const k = queueKeys(prefix, 'default');
  const worker = (handler: (p: { orderId: string; cents: number }) => Promise<void>, options: Omit<WorkerOptions, 'queues'> = {}) => {
    const w = createWorker(jobs, { charge: handler, other: async () => {} }, { redis: redisUrl(), prefix, logger: false, leaseMs: 1000, ...options });
    defer(() => w.close());
    return w;
  };
  return { prefix, client, raw, k, worker };
}

/** Every key under the prefix with its serialized value: equal snapshots mean nothing was written. */
async function snapshot(raw: Redis, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of await keysUnder(raw, prefix)) out[key] = ((await raw.dumpBuffer(key)) ?? Buffer.alloc(0)).toString('hex');
  return out;
}

describe('jobId idempotency', () => {
  it('returns the existing id with duplicate: true and keeps the first payload', async () => {
    const { client, raw, k } = setup('idem-waiting');
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 100 }, { jobId: 'order-1' })).toEqual({ id: 'order-1', duplicate: false });
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 999 }, { jobId: 'order-1' })).toEqual({ id: 'order-1', duplicate: true });
    const job = await client.getJob('order-1');
    expect(job.state).toBe('waiting');
    expect(job.payload).toEqual({ orderId: 'o1', cents: 100 });
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 1, jobs: 1 });
  });

  it('a duplicate enqueue changes no key at all', async () => {
    const { client, raw, prefix } = setup('idem-nowrite');
    await client.enqueue('charge', { orderId: 'o1', cents: 100 }, { jobId: 'order-1' });
    const before = await snapshot(raw, prefix);
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 100 }, { jobId: 'order-1' })).toEqual({ id: 'order-1', duplicate: true });
    expect(await snapshot(raw, prefix)).toEqual(before);
  });

  it('treats a delayed job as existing', async () => {
    const { client, raw, k } = setup('idem-delayed');
    await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'later', delay: 60_000 });
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'later' })).toEqual({ id: 'later', duplicate: true });
    expect((await client.getJob('later')).state).toBe('delayed');
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, scheduled: 1, jobs: 1 });
  });

  it('treats a running job as existing, and the job runs once', async () => {
    const { client, raw, k, worker } = setup('idem-active');
    const started = deferred();
    const finish = deferred();
    let runs = 0;
    worker(async () => {
      runs++;
      started.resolve();
      await finish.promise;
    });
    await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'run-1' });
    await started.promise;
    expect((await client.getJob('run-1')).state).toBe('active');
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'run-1' })).toEqual({ id: 'run-1', duplicate: true });
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, active: 1, jobs: 1 });
    finish.resolve();
    await waitFor(async () => (await client.getJob('run-1')).state === 'completed', 'completion');
    expect(runs).toBe(1);
  });

  it('treats a completed job as existing while its record is retained', async () => {
    const { client, raw, k, worker } = setup('idem-done');
    let runs = 0;
    worker(async () => void runs++);
    await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'paid-1' });
    await waitFor(async () => (await client.getJob('paid-1')).state === 'completed', 'completion');
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'paid-1' })).toEqual({ id: 'paid-1', duplicate: true });
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, jobs: 0, done: 1 });
    expect((await client.getJob('paid-1')).state).toBe('completed');
    expect(runs).toBe(1);
  });

  it('accepts the id again once the completed record is no longer retained', async () => {
    const { client, worker } = setup('idem-evicted');
    let runs = 0;
    worker(async () => void runs++, { keepCompleted: { count: 0 } });
    await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'again' });
    await waitFor(() => runs === 1, 'first run');
    await waitFor(async () => (await client.getJob('again')).state === 'unknown', 'the job to be forgotten');
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'again' })).toEqual({ id: 'again', duplicate: false });
    await waitFor(() => runs === 2, 'second run');
  });

  it('treats a dead job as existing', async () => {
    const { client, worker } = setup('idem-dead');
    worker(async () => {
      throw new Error('card declined');
    });
    await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'declined' });
    await waitFor(async () => (await client.getJob('declined')).state === 'dead', 'the job to die');
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'declined' })).toEqual({ id: 'declined', duplicate: true });
    expect(await client.deadLetters.count('default')).toBe(1);
  });

  it('scopes ids to the queue of the job', async () => {
    const { client } = setup('idem-queues');
    expect(await client.enqueue('charge', { orderId: 'o1', cents: 1 }, { jobId: 'same' })).toEqual({ id: 'same', duplicate: false });
    expect(await client.enqueue('other', {}, { jobId: 'same' })).toEqual({ id: 'same', duplicate: false });
  });

  it('refuses a jobId with "#", an empty one and an overlong one, writing nothing', async () => {
    const { client, raw, prefix } = setup('idem-bad-ids');
    await expect(client.enqueue('charge', { orderId: 'o', cents: 1 }, { jobId: 'default#1' })).rejects.toThrow(/#/);
    await expect(client.enqueue('charge', { orderId: 'o', cents: 1 }, { jobId: '' })).rejects.toThrow(/jobId/);
    await expect(client.enqueue('charge', { orderId: 'o', cents: 1 }, { jobId: 'x'.repeat(257) })).rejects.toThrow(/jobId/);
    expect(await keysUnder(raw, prefix)).toEqual([]);
  });
});
