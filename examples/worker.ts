/**
 * A service that only runs jobs: one handler per job of jobs.schema.ts, typed by the generated `Handlers`; leaving
 * one out, or expecting the wrong payload, does not compile. Stop it with Ctrl-C (it finishes running jobs first).
 *
 *   npx tsx examples/worker.ts        (REDIS_URL, default redis://127.0.0.1:6379; JOBCRAFT_PREFIX, default "jobcraft")
 *
 * To serve only some queues, say so: createWorker({ resizeImage }, { queues: ['images'] }) needs only that handler.
 */
import { createWorker } from '../generated/index.js';

const worker = createWorker(
  {
    sendWelcomeEmail: async ({ userId, email, locale }, ctx) => {
      ctx.logger.info(`welcome email for ${userId}`, { email, locale: locale ?? 'the user default' });
    },
    deliverWebhook: async ({ url, event, body }, ctx) => {
      // A real handler would POST here (with ctx.signal, so a timeout aborts it) and throw on a non-2xx answer.
      ctx.logger.info(`deliver ${event} to ${url}`, { bytes: JSON.stringify(body).length });
    },
    resizeImage: async ({ imageId, widths, format, quality }, ctx) => {
      // quality is a number and format is set: the schema's transform and default ran when the job was fetched.
      ctx.logger.info(`resize ${imageId}`, { widths, format, quality });
    },
    buildDailyReport: async ({ day }, ctx) => {
      // The nightly cron firing leaves day out: report on the day before.
      const reportDay = day ?? new Date(ctx.enqueuedAt.getTime() - 86_400_000).toISOString().slice(0, 10);
      ctx.logger.info(`daily report for ${reportDay}`);
    },
  },
  { concurrency: 4, handleSignals: true },
);

worker.on('completed', ({ job, durationMs }) => console.log(`completed ${job.name} ${job.id} in ${durationMs.toFixed(1)} ms`));
worker.on('retrying', ({ job, error, delayMs }) => console.log(`retrying ${job.name} ${job.id} in ${delayMs} ms: ${(error as Error).message}`));
worker.on('dead', ({ job, reason, error }) => console.log(`dead ${job.name} ${job.id} (${reason}): ${error.message}`));
// The startup checks (eviction policy, ACL permissions) passed; a refused worker exits with code 1 (handleSignals).
await worker.ready;
console.log(`worker serving ${worker.queues.join(', ')}; Ctrl-C to stop`);
