/**
 * BullMQ as the benchmark drives it, with the settings its docs recommend: a connection with
 * `maxRetriesPerRequest: null` for workers, `removeOnComplete` / `removeOnFail` set on the worker (kept like
 * jobcraft's defaults: 1,000 completed jobs for at most an hour, 10,000 failed), everything else default.
 * Jobs are added without options, so each job record is as small as BullMQ makes it.
 */
import { Queue, Worker } from 'bullmq';
import { redisOptions, type LibAdapter, type Namespace, type Producer, type TaskPayload, type WorkerHandle, type WorkerSetup } from '../common.js';

function openProducer(ns: Namespace): Producer {
  const queue = new Queue(ns.queue, { connection: redisOptions(), prefix: ns.prefix });
  return {
    add: (kind, data, delayMs) => queue.add(kind, data, delayMs ? { delay: delayMs } : undefined),
    addMany: (kind, data) => queue.addBulk(data.map((d) => ({ name: kind, data: d }))),
    close: () => queue.close(),
  };
}

function startWorker(setup: WorkerSetup): WorkerHandle {
  const worker = new Worker<TaskPayload>(setup.ns.queue, async (job) => {
    if (job.name === 'task') await setup.handler(job.data);
  }, {
    connection: { ...redisOptions(), maxRetriesPerRequest: null },
    prefix: setup.ns.prefix,
    concurrency: setup.concurrency,
    removeOnComplete: { count: 1_000, age: 3_600 },
    removeOnFail: { count: 10_000 },
  });
  worker.on('completed', setup.onCompleted);
  worker.on('error', (err) => console.error(`bullmq worker error: ${err.message}`));
  return { ready: () => worker.waitUntilReady().then(() => undefined), close: () => worker.close() };
}

export const adapter: LibAdapter = { openProducer, startWorker };
