/**
 * The attempts hash (docs/redis-layout.md) holds a guard field while any job of its queue is leased, so Redis keeps it
 * in the hashtable encoding: in the listpack encoding a small hash starts with, each lease and acknowledgement scans
 * the whole hash (issue 17). The guard must not change what the hash says about a job, and it must not linger: the
 * hash is deleted once no job holds an attempt count, whichever way the last one left (completed, dead, cancelled).
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys } from '../src/index.js';
import { ATTEMPTS_GUARD, cleanupRegistry, deferred, queueCounts, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  work: { payload: z.object({ n: z.number() }) },
  doomed: { payload: z.object({ n: z.number() }), attempts: 1 },
  retried: { payload: z.object({ n: z.number() }), attempts: 3, backoff: { type: 'fixed', delay: '1h' } },
});
const defer = cleanupRegistry();

describe('the attempts hash', () => {
  it('is a hashtable while one job is leased, counts that job as attempt 1, and is gone once it completes', async () => {
    const { prefix, client, raw } = testClient(jobs, 'attempts-enc', defer);
    const k = queueKeys(prefix, 'default');
    const gate = deferred();
    const worker = createWorker(jobs, { work: () => gate.promise, doomed: () => undefined, retried: () => undefined }, { redis: redisUrl(), prefix, logger: false, concurrency: 1, prefetch: 0 });
    defer(() => worker.close());
    const { id } = await client.enqueue('work', { n: 1 });
    await waitFor(() => worker.running === 1, 'the job running');
    expect(await raw.object('ENCODING', k.attempts)).toBe('hashtable');
    expect(await raw.hget(k.attempts, id)).toBe('1');
    expect((await queueCounts(raw, k)).attempts).toBe(1);
    gate.resolve();
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job completed');
    expect((await client.getJob(id)).attempts).toBe(1);
    expect(await raw.exists(k.attempts)).toBe(0);
  });

  it('is gone once the last job holding a count dies, or is cancelled while it waits for a retry', async () => {
    const { prefix, client, raw } = testClient(jobs, 'attempts-enc', defer);
    const k = queueKeys(prefix, 'default');
    const worker = createWorker(
      jobs,
      {
        work: () => undefined,
        doomed: () => {
          throw new Error('no');
        },
        retried: () => {
          throw new Error('later');
        },
      },
      { redis: redisUrl(), prefix, logger: false, concurrency: 2, prefetch: 0 },
    );
    defer(() => worker.close());
    const dead = await client.enqueue('doomed', { n: 1 });
    await waitFor(async () => (await client.getJob(dead.id)).state === 'dead', 'the job dead');
    expect(await raw.exists(k.attempts)).toBe(0);
    const later = await client.enqueue('retried', { n: 2 });
    await waitFor(async () => (await client.getJob(later.id)).state === 'retrying', 'the job waiting for its retry');
    // Its count stays (the next lease is attempt 2); no job is leased, so only the guard may be beside it.
    expect(await raw.hget(k.attempts, later.id)).toBe('1');
    expect((await queueCounts(raw, k)).attempts).toBe(1);
    expect(await client.cancel(later.id)).toBe('cancelled');
    expect(await raw.exists(k.attempts)).toBe(0);
    expect(await raw.hexists(k.attempts, ATTEMPTS_GUARD)).toBe(0);
  });
});
