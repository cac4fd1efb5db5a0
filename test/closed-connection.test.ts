/**
 * A fetch loop whose connection is closed for good (status 'end': a retryStrategy that gave up, or a connection
 * closed under it) must say so and keep retrying with backoff, not wait in silence for a 'ready' that never comes.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, type Worker } from '../src/index.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({ t: { payload: z.object({ n: z.number() }) } });
const defer = cleanupRegistry();

/** The connection a queue's fetch loop blocks on (the worker's own duplicate). */
function blockingConnection(w: Worker, queue: string): Redis {
  const fetchers = (w as unknown as { fetchers: Map<string, { blocking: { redis: Redis } }> }).fetchers;
  const f = fetchers.get(queue);
  if (f === undefined) throw new Error(`no fetch loop for queue ${queue}`);
  return f.blocking.redis;
}

describe('a worker whose blocking connection was closed for good', () => {
  it('reports it (an error event naming the cause) instead of stalling silently', async () => {
    const { prefix, client } = testClient(jobs, 'closed-connection', defer);
    const completed: string[] = [];
    const errors: Error[] = [];
    // A short lease: the idle blocking read returns every leaseMs / 4, and the loop then looks at its connection.
    const w = createWorker(jobs, { t: async () => {} }, { redis: redisUrl(), prefix, leaseMs: 400, logger: false });
    defer(() => w.close());
    w.on('completed', (e) => void completed.push(e.job.id));
    w.on('error', (e) => void errors.push(e));
    const { id } = await client.enqueue('t', { n: 1 });
    await waitFor(() => completed.includes(id), 'the worker to serve the queue');

    // As if its retryStrategy had given up: ioredis will not reconnect it, no 'ready' will come.
    blockingConnection(w, 'default').disconnect();
    const reported = await waitFor(
      () => errors.find((e) => /blocking connection to Redis is closed for good \(status "end"/.test(e.message)),
      'the closed connection to be reported',
    );
    expect(reported.message).toContain('queue "default" cannot be served');
    await w.close();
  });
});
