/**
 * The demo: declares jobs (jobs.schema.ts), starts a worker, enqueues a few jobs — one with a bad payload, one that
 * fails and retries, one that dies into the dead letters — prints what happens and exits.
 *
 *   npm run demo          (REDIS_URL, default redis://127.0.0.1:6379; a throwaway redis-server if none answers)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, createWorker, JobValidationError, PermanentError } from '../src/index.js';
import { jobs } from '../jobs.schema.js';
import { ensureRedis } from '../scripts/redis-server.js';

const log = (what: string, detail = ''): void => console.log(`${new Date().toISOString().slice(11, 23)}  ${what.padEnd(34)} ${detail}`);

let redisHandle;
try {
  redisHandle = await ensureRedis();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
const redis = redisHandle.url;
const prefix = `jobcraft-demo-${process.pid}`;
const client = createClient(jobs, { redis, prefix });

const webhookCalls = new Map<string, number>();
const worker = createWorker(
  jobs,
  {
    sendWelcomeEmail: async ({ email, locale }, ctx) => {
      log(`  ▶ sendWelcomeEmail #${ctx.attempt}`, `to ${email} (${locale ?? 'default locale'})`);
    },
    deliverWebhook: async ({ url, event }, ctx) => {
      const n = (webhookCalls.get(ctx.id) ?? 0) + 1;
      webhookCalls.set(ctx.id, n);
      if (n < 3) throw new Error(`POST ${url} answered 503 (attempt ${ctx.attempt} of ${ctx.maxAttempts})`);
      log(`  ▶ deliverWebhook #${ctx.attempt}`, `${event} delivered to ${url}`);
    },
    resizeImage: async ({ imageId, widths, format, quality }, ctx) => {
      // quality arrives as a number even though it was enqueued as "75%": the schema's transform ran at dequeue.
      log(`  ▶ resizeImage #${ctx.attempt}`, `${imageId} → ${widths.join(', ')} px ${format} q${quality}`);
      if (imageId === 'img-corrupt') throw new PermanentError(`image ${imageId} is not a decodable image`);
    },
    buildDailyReport: async ({ day }, ctx) => {
      throw new Error(`the analytics database is unreachable (report for ${day}, attempt ${ctx.attempt})`);
    },
  },
  { redis, prefix, concurrency: 4, logger: false },
);
worker.on('completed', ({ job, durationMs }) => log(`✔ completed ${job.name}`, `${job.id} after ${job.attempt} attempt(s), ${durationMs.toFixed(1)} ms`));
worker.on('retrying', ({ job, error, delayMs }) => log(`↻ retrying ${job.name}`, `${job.id} in ${delayMs} ms: ${(error as Error).message}`));
worker.on('dead', ({ job, reason, error }) => log(`✖ dead ${job.name}`, `${job.id} (${reason}): ${error.message}`));

log('enqueue sendWelcomeEmail', JSON.stringify((await client.enqueue('sendWelcomeEmail', { userId: 'u-1', email: 'ada@example.com', locale: 'en' })).id));
log('enqueue deliverWebhook', JSON.stringify((await client.enqueue('deliverWebhook', { url: 'https://hooks.example.com/in', event: 'invoice.paid', body: { invoice: 42 } })).id));
log('enqueue resizeImage', JSON.stringify((await client.enqueue('resizeImage', { imageId: 'img-7', widths: [320, 640], quality: '75%' })).id));
log('enqueue resizeImage (corrupt)', JSON.stringify((await client.enqueue('resizeImage', { imageId: 'img-corrupt', widths: [320] })).id));
log('enqueue buildDailyReport', JSON.stringify((await client.enqueue('buildDailyReport', { day: '2026-11-27' })).id));
const first = await client.enqueue('sendWelcomeEmail', { userId: 'u-2', email: 'bob@example.com' }, { jobId: 'welcome-u-2' });
const again = await client.enqueue('sendWelcomeEmail', { userId: 'u-2', email: 'bob@example.com' }, { jobId: 'welcome-u-2' });
log('enqueue with jobId twice', `${first.id}: duplicate=${first.duplicate}, then duplicate=${again.duplicate}`);
try {
  // Type-correct (both are strings) but invalid: an empty id and a malformed address. Types cannot say "non-empty"
  // or "an email address"; the schema can, so the runtime refuses it and nothing reaches Redis.
  await client.enqueue('sendWelcomeEmail', { userId: '', email: 'not-an-email' });
} catch (err) {
  if (!(err instanceof JobValidationError)) throw err;
  log('✖ refused at enqueue', err.message);
}

// Wait until every job has finished one way or another.
const deadline = Date.now() + 20_000;
for (;;) {
  const states = await Promise.all(['email#1', 'webhooks#1', 'images#1', 'images#2', 'reports#1'].map((id) => client.getJob(id)));
  if (states.every((s) => s.state === 'completed' || s.state === 'dead')) break;
  if (Date.now() > deadline) throw new Error(`the demo did not finish: ${states.map((s) => `${s.id}=${s.state}`).join(', ')}`);
  await sleep(100);
}

const webhook = await client.getJob('webhooks#1');
log('getJob webhooks#1', `${webhook.state} after ${webhook.attempts} attempts`);
for (const queue of ['images', 'reports'] as const) {
  for (const d of await client.deadLetters.list(queue)) {
    log(`dead letter in "${queue}"`, `${d.id} ${d.name} — ${d.reason} after ${d.attempts} attempt(s): ${d.error.message}`);
  }
}
await worker.close();
// Leave nothing behind in the Redis the demo borrowed.
let cursor = '0';
do {
  const [next, keys] = await client.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length > 0) await client.redis.del(...keys);
} while (cursor !== '0');
await client.close();
await redisHandle.stop();
log('done');
