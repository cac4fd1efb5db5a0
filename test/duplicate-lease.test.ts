/**
 * The same job id queued twice (a foreign producer's retried push): one fetch leases it twice. The worker must run it
 * once and keep going — it used to spin forever in dispatch() once the first copy's lease passed its local deadline.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type Logger } from '../src/index.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({ t: { payload: z.object({ n: z.number() }) } });
const defer = cleanupRegistry();

describe('a job id queued twice', () => {
  it('runs once, is recorded as completed, and the worker keeps serving the queue', async () => {
    const { prefix, client, raw } = testClient(jobs, 'duplicate-lease', defer);
    const k = queueKeys(prefix, 'default');
    const x = await client.enqueue('t', { n: 1 });
    const y = await client.enqueue('t', { n: 2 });
    await raw.rpush(k.wait, y.id);
    expect(await raw.lrange(k.wait, 0, -1)).toEqual([x.id, y.id, y.id]);

    const warnings: string[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) };
    const starts: string[] = [];
    const completed: string[] = [];
    // Each handler outlasts the lease (renewals keep it), so the copy leased ahead waits past its first deadline.
    const w = createWorker(
      jobs,
      {
        t: async (_p, ctx) => {
          starts.push(ctx.id);
          await new Promise((r) => setTimeout(r, 700));
        },
      },
      { redis: redisUrl(), prefix, leaseMs: 400, concurrency: 1, prefetch: 4, logger },
    );
    defer(() => w.close());
    w.on('completed', (e) => void completed.push(e.job.id));

    await waitFor(() => completed.includes(x.id) && completed.includes(y.id), 'both jobs to complete');
    // The worker is not stuck: a job enqueued afterwards runs too.
    const z1 = await client.enqueue('t', { n: 3 });
    await waitFor(() => completed.includes(z1.id), 'a later job to complete');
    await w.close();

    expect(starts.filter((id) => id === y.id)).toHaveLength(1);
    expect(completed.filter((id) => id === y.id)).toHaveLength(1);
    expect((await client.getJob(y.id))?.state).toBe('completed');
    expect(warnings.some((m) => m.includes(`job ${y.id} (t) was leased again while this worker held it`))).toBe(true);
  });
});
