/**
 * A service that only produces jobs: it imports nothing but the generated enqueue functions. Run the worker
 * (examples/worker.ts) in another terminal, then:
 *
 *   npx tsx examples/producer.ts      (REDIS_URL and JOBCRAFT_PREFIX as for the worker)
 *
 * Each call is checked by the compiler against jobs.schema.ts (through generated/) and by the schema at run time.
 */
import {
  closeDefaultJobsClient,
  enqueueBuildDailyReport,
  enqueueDeliverWebhook,
  enqueueResizeImage,
  enqueueSendWelcomeEmail,
} from '../generated/index.js';

const sent = [
  await enqueueSendWelcomeEmail({ userId: 'u-42', email: 'ada@example.com', locale: 'en' }),
  // Idempotent: a second enqueue with the same jobId writes nothing and reports a duplicate.
  await enqueueSendWelcomeEmail({ userId: 'u-42', email: 'ada@example.com' }, { jobId: 'welcome-u-42' }),
  await enqueueSendWelcomeEmail({ userId: 'u-42', email: 'ada@example.com' }, { jobId: 'welcome-u-42' }),
  await enqueueDeliverWebhook({ url: 'https://hooks.example.com/in', event: 'invoice.paid', body: { invoice: 1001 } }),
  // The input form: quality as "75%"; the handler receives 75, and format "webp" from the schema's default.
  await enqueueResizeImage({ imageId: 'img-7', widths: [320, 640], quality: '75%' }),
  await enqueueBuildDailyReport({ day: '2026-11-27' }, { delay: '1s' }),
];
for (const { id, duplicate } of sent) console.log(`enqueued ${id}${duplicate ? ' (duplicate: nothing written)' : ''}`);
await closeDefaultJobsClient();
