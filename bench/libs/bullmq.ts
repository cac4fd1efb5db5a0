/**
 * BullMQ as the benchmark drives it, with the settings its docs recommend: a connection with
 * `maxRetriesPerRequest: null` for workers, `removeOnComplete` / `removeOnFail` set on the worker (kept like
 * jobcraft's defaults: 1,000 completed jobs for at most an hour, 10,000 failed), everything else default.
 * Jobs are added without options, so each job record is as small as BullMQ makes it.
 */
import { Queue, QueueEvents, Worker } from 'bullmq';
import { nsUrl, redisOptions, type LibAdapter, type Namespace, type Producer, type ResultProducer, type TaskPayload, type WorkerHandle, type WorkerSetup } from '../common.js';

function openProducer(ns: Namespace): Producer {
  const queue = new Queue(ns.queue, { connection: redisOptions(nsUrl(ns)), prefix: ns.prefix });
  return {
    add: (kind, data, delayMs) => queue.add(kind, data, delayMs ? { delay: delayMs } : undefined),
    addMany: (kind, data) => queue.addBulk(data.map((d) => ({ name: kind, data: d }))),
    close: () => queue.close(),
  };
}

/** `waitUntilFinished` as BullMQ documents it: a QueueEvents (its own connection, reading the events stream). */
async function openResultProducer(ns: Namespace): Promise<ResultProducer> {
  const queue = new Queue(ns.queue, { connection: redisOptions(nsUrl(ns)), prefix: ns.prefix });
  const events = new QueueEvents(ns.queue, { connection: redisOptions(nsUrl(ns)), prefix: ns.prefix });
  await events.waitUntilReady();
  // Hundreds of adds and waits in flight at once each add a listener for a moment: not a leak, so no warning.
  queue.setMaxListeners(0);
  events.setMaxListeners(0);
  return {
    addAndWait: async (data) => (await queue.add('task', data)).waitUntilFinished(events, 60_000),
    close: async () => {
      await events.close();
      await queue.close();
    },
  };
}

function startWorker(setup: WorkerSetup): WorkerHandle {
  const worker = new Worker<TaskPayload>(setup.ns.queue, async (job) => {
    if (job.name !== 'task') return undefined;
    const value = await setup.handler(job.data);
    // The job's return value is its result (result-roundtrip-p99 only; otherwise nothing is returned, as before).
    return setup.withResult === true ? value : undefined;
  }, {
    connection: { ...redisOptions(nsUrl(setup.ns)), maxRetriesPerRequest: null },
    prefix: setup.ns.prefix,
    concurrency: setup.concurrency,
    removeOnComplete: { count: 1_000, age: 3_600 },
    removeOnFail: { count: 10_000 },
  });
  worker.on('completed', setup.onCompleted);
  worker.on('error', (err) => console.error(`bullmq worker error: ${err.message}`));
  return { ready: () => worker.waitUntilReady().then(() => undefined), close: () => worker.close() };
}

export const adapter: LibAdapter = { openProducer, startWorker, openResultProducer };
