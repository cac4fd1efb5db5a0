/**
 * jobcraft as the benchmark drives it: default settings (payload validation at enqueue and at dequeue, crash-safe
 * leased fetch, default prefetch, retries, lease length and completed-job retention); only the concurrency changes.
 */
import * as z from 'zod';
import { createClient, createMetrics, createWorker, defineJobs } from '../../src/index.js';
import { redisUrl, type LibAdapter, type Namespace, type Producer, type TaskPayload, type WorkerHandle, type WorkerSetup } from '../common.js';

/** The benchmark's job set: both kinds in one queue, `bench`. */
export const benchJobs = defineJobs({
  task: { payload: z.object({ i: z.number().int().nonnegative(), at: z.number() }), queue: 'bench' },
  email: {
    payload: z.object({
      userId: z.string().min(1),
      email: z.email(),
      template: z.enum(['welcome', 'reset', 'digest']),
      locale: z.enum(['en', 'de', 'fr']),
    }),
    queue: 'bench',
  },
});

function openProducer(ns: Namespace): Producer {
  const client = createClient(benchJobs, { redis: redisUrl(), prefix: ns.prefix });
  return {
    add: (kind, data, delayMs) =>
      kind === 'task'
        ? client.enqueue('task', data as TaskPayload, delayMs ? { delay: delayMs } : {})
        : client.enqueue('email', data as z.input<(typeof benchJobs)['definitions']['email']['payload']>, delayMs ? { delay: delayMs } : {}),
    addMany: (kind, data) =>
      kind === 'task'
        ? client.enqueueMany('task', data as TaskPayload[])
        : client.enqueueMany('email', data as z.input<(typeof benchJobs)['definitions']['email']['payload']>[]),
    close: () => client.close(),
  };
}

function startWorker(setup: WorkerSetup): WorkerHandle {
  const worker = createWorker(
    benchJobs,
    { task: (p) => setup.handler(p), email: () => {} },
    { redis: redisUrl(), prefix: setup.ns.prefix, concurrency: setup.concurrency, ...(setup.metrics ? { metrics: createMetrics() } : {}) },
  );
  worker.on('completed', setup.onCompleted);
  return { ready: async () => {}, close: () => worker.close() };
}

export const adapter: LibAdapter = { openProducer, startWorker };
