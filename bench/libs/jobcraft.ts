/**
 * jobcraft as the benchmark drives it: default settings (payload validation at enqueue and at dequeue, crash-safe
 * leased fetch, default prefetch, retries, lease length and completed-job retention); only the concurrency changes.
 */
import * as z from 'zod';
import { createClient, createMetrics, createWorker, defineJobs } from '../../src/index.js';
import { nsUrl, type LibAdapter, type Namespace, type Producer, type ResultProducer, type TaskPayload, type WorkerHandle, type WorkerSetup } from '../common.js';

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

/**
 * The job set of `result-roundtrip-p99` (apart, so the other workloads' queue has no job type with a result): the
 * task's payload, and its `i` back as the result.
 */
export const resultBenchJobs = defineJobs({
  task: { payload: z.object({ i: z.number().int().nonnegative(), at: z.number() }), result: z.object({ i: z.number() }), queue: 'bench' },
});

async function openResultProducer(ns: Namespace): Promise<ResultProducer> {
  const client = createClient(resultBenchJobs, { redis: nsUrl(ns), prefix: ns.prefix });
  return {
    addAndWait: async (data) => (await client.enqueue('task', data)).result({ timeout: 60_000 }),
    close: () => client.close(),
  };
}

function openProducer(ns: Namespace): Producer {
  const client = createClient(benchJobs, { redis: nsUrl(ns), prefix: ns.prefix });
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
  if (setup.withResult === true) {
    const worker = createWorker(resultBenchJobs, { task: (p) => setup.handler(p) as { i: number } }, { redis: nsUrl(setup.ns), prefix: setup.ns.prefix, concurrency: setup.concurrency });
    worker.on('completed', setup.onCompleted);
    return { ready: async () => {}, close: () => worker.close() };
  }
  const worker = createWorker(
    benchJobs,
    { task: (p) => void setup.handler(p), email: () => {} },
    { redis: nsUrl(setup.ns), prefix: setup.ns.prefix, concurrency: setup.concurrency, ...(setup.metrics ? { metrics: createMetrics() } : {}) },
  );
  worker.on('completed', setup.onCompleted);
  return { ready: async () => {}, close: () => worker.close() };
}

export const adapter: LibAdapter = { openProducer, startWorker, openResultProducer };
