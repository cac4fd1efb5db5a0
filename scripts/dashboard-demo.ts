/**
 * A realistic demo dataset for the dashboard (used by scripts/screenshots.ts): the example application's four queues
 * (jobs.schema.ts) with jobs in every state — completed, dead letters with their errors, retrying, delayed, waiting,
 * active on a live worker — plus a week of history, all under one key prefix that `stop()` deletes.
 */
import { Redis } from 'ioredis';
import { createClient, createInspector, createWorker, PermanentError, queueKeys, type Worker } from '../src/index.js';
import { jobs } from '../jobs.schema.js';

/** A seeded dataset and how to take it down. */
export interface DemoDataset {
  readonly prefix: string;
  /** Id of a dead webhook delivery with its error and stack (the job page's example). */
  readonly deadJobId: string;
  /** Id of a job that completed after retries (its timeline has several attempts). */
  readonly completedJobId: string;
  /** Closes the workers (releasing their running jobs) and deletes every key under the prefix. */
  stop(): Promise<void>;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** Polls until `check` holds (the dataset settles on outcomes, not on sleeps). */
async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`demo dataset: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * History buckets for the hours and minutes before now (docs/redis-layout.md, `history:h:<ms>` / `history:m:<ms>`),
 * a daily curve with a bad afternoon, so the overview's week, day and hour charts have something to draw. The
 * counters are the ones the workers write; the live part of the run adds to the current buckets.
 */
async function writeHistory(redis: Redis, prefix: string, now: number): Promise<void> {
  const shape: Record<string, { queue: string; perHour: number; failRate: number; runMs: number }> = {
    sendWelcomeEmail: { queue: 'email', perHour: 15_000, failRate: 0.004, runMs: 45 },
    deliverWebhook: { queue: 'webhooks', perHour: 6_000, failRate: 0.05, runMs: 180 },
    resizeImage: { queue: 'images', perHour: 2_400, failRate: 0.01, runMs: 1_200 },
    buildDailyReport: { queue: 'reports', perHour: 0, failRate: 0, runMs: 0 },
  };
  const pipe = redis.pipeline();
  const add = (key: string, job: string, counts: Record<string, number>, ttlMs: number): void => {
    for (const [c, n] of Object.entries(counts)) if (n > 0) pipe.hincrby(key, `${job}|${c}`, n);
    pipe.pexpire(key, ttlMs);
  };
  const counts = (perHour: number, failRate: number, runMs: number, at: number, scale: number): Record<string, number> => {
    const hourOfDay = new Date(at).getUTCHours();
    const daily = 0.35 + 0.65 * Math.max(0, Math.sin(((hourOfDay - 5) / 24) * 2 * Math.PI));
    const processed = Math.round(perHour * daily * scale * (0.85 + 0.3 * ((at / HOUR) % 1 || Math.abs(Math.sin(at)))));
    const bad = hourOfDay >= 14 && hourOfDay <= 15 ? 6 : 1; // an incident every afternoon
    const failed = Math.round(processed * failRate * bad);
    return { p: processed, f: failed, r: Math.round(failed * 0.8), d: Math.round(failed * 0.2), rts: processed * runMs, wts: processed * 20, rt1: Math.round(processed * 0.6), rt2: Math.round(processed * 0.4), wt1: processed };
  };
  const thisHour = Math.floor(now / HOUR) * HOUR;
  for (let h = 1; h <= 7 * 24; h++) {
    const at = thisHour - h * HOUR;
    for (const [job, s] of Object.entries(shape)) {
      if (s.perHour === 0) continue;
      add(`${queueKeys(prefix, s.queue).historyPrefix}h:${at}`, job, counts(s.perHour, s.failRate, s.runMs, at, 1), 90 * 24 * HOUR);
    }
  }
  const thisMinute = Math.floor(now / MINUTE) * MINUTE;
  for (let m = 1; m <= 60; m++) {
    const at = thisMinute - m * MINUTE;
    for (const [job, s] of Object.entries(shape)) {
      if (s.perHour === 0) continue;
      add(`${queueKeys(prefix, s.queue).historyPrefix}m:${at}`, job, counts(s.perHour, s.failRate, s.runMs, at, 1 / 60), 48 * HOUR);
    }
  }
  await pipe.exec();
}

/**
 * Seeds the dataset under `prefix` and leaves two workers running: `images-worker-1` with two resizes in progress
 * (held until `stop()`) and an idle `reports-worker-1` that fires the cron job.
 */
export async function seedDemo(redisUrl: string, prefix: string): Promise<DemoDataset> {
  const raw = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const client = createClient(jobs, { redis: redisUrl, prefix });
  const workers: Worker[] = [];
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  try {
    await writeHistory(raw, prefix, Date.now());

    // 1. A busy past: a worker runs a few hundred jobs; some fail for good, some retry.
    const busy = createWorker(
      jobs,
      {
        sendWelcomeEmail: async ({ email }) => {
          if (email.endsWith('@bounced.example')) throw new PermanentError(`SMTP 550 5.1.1 <${email}>: mailbox unavailable`);
        },
        deliverWebhook: async ({ url, event }, ctx) => {
          if (url.includes('flaky') && ctx.attempt < 2) throw new Error(`POST ${url} answered 503 Service Unavailable`);
          if (url.includes('down')) throw new Error(`connect ECONNREFUSED ${new URL(url).hostname}:443 while delivering ${event}`);
        },
        resizeImage: async ({ imageId }) => {
          if (imageId.startsWith('img-corrupt')) throw new PermanentError(`image ${imageId} is not a decodable image (JPEG SOI marker missing)`);
        },
        buildDailyReport: async ({ day }) => {
          throw new Error(`the analytics database is unreachable (report for ${day ?? 'yesterday'}): timeout after 30 s`);
        },
      },
      { redis: redisUrl, prefix, concurrency: 8, logger: false, cron: false, name: 'api-worker-1' },
    );
    await busy.ready;
    const users = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'ken', 'dennis', 'margaret', 'linus', 'guido'];
    await client.enqueueMany(
      'sendWelcomeEmail',
      Array.from({ length: 240 }, (_, i) => ({ userId: `u-${1000 + i}`, email: `${users[i % users.length]}.${i}@example.com`, locale: i % 3 === 0 ? ('de' as const) : ('en' as const) })),
    );
    await client.enqueue('sendWelcomeEmail', { userId: 'u-1999', email: 'noone@bounced.example' });
    await client.enqueue('sendWelcomeEmail', { userId: 'u-2001', email: 'typo@bounced.example', locale: 'de' });
    const flaky = await client.enqueue('deliverWebhook', { url: 'https://hooks.acme.example/flaky', event: 'invoice.paid', body: { invoice: 4711, amount: 129.9 } });
    for (let i = 0; i < 60; i++) await client.enqueue('deliverWebhook', { url: 'https://hooks.acme.example/in', event: 'order.created', body: { order: 9000 + i } });
    for (const [i, event] of ['invoice.paid', 'customer.deleted', 'order.shipped'].entries()) {
      await client.enqueue('deliverWebhook', { url: 'https://down.partner.example/hook', event, body: { id: i } }, { attempts: 2 });
    }
    await client.enqueueMany('resizeImage', Array.from({ length: 40 }, (_, i) => ({ imageId: `img-${5000 + i}`, widths: [320, 640, 1280], quality: '82%' })));
    await client.enqueue('resizeImage', { imageId: 'img-corrupt-77', widths: [320] });
    const report = await client.enqueue('buildDailyReport', { day: '2026-12-01' });
    await until(async () => (await client.deadLetters.list('reports')).length >= 1 && (await client.deadLetters.list('webhooks')).length >= 3 && (await client.getJob(flaky.id)).state === 'completed', 'the first jobs to finish');
    // Two webhooks that will retry for a while: stuck in backoff once the busy worker is gone.
    for (const id of [1, 2]) await client.enqueue('deliverWebhook', { url: 'https://down.partner.example/retry', event: 'refund.created', body: { refund: id } }, { attempts: 8 });
    await until(async () => (await raw.hlen(queueKeys(prefix, 'webhooks').errors)) >= 2, 'the retrying webhooks to fail once');
    await busy.close();

    // 2. Now: waiting and delayed jobs nobody serves yet, two running resizes, an idle reports worker.
    await client.enqueueMany('sendWelcomeEmail', Array.from({ length: 37 }, (_, i) => ({ userId: `u-${3000 + i}`, email: `new.user${i}@example.com` })));
    for (let i = 0; i < 12; i++) await client.enqueue('deliverWebhook', { url: 'https://hooks.acme.example/in', event: 'order.created', body: { order: 9100 + i } });
    for (const [i, d] of ['15m', '2h', '1d'].entries()) await client.enqueue('sendWelcomeEmail', { userId: `u-40${i}`, email: `later${i}@example.com` }, { delay: d });
    await client.enqueue('deliverWebhook', { url: 'https://hooks.acme.example/in', event: 'subscription.renewed', body: { plan: 'pro' } }, { delay: '6h' });
    const images = createWorker(
      jobs,
      {
        resizeImage: async (_payload, ctx) => {
          await Promise.race([held, new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))]);
        },
      },
      { redis: redisUrl, prefix, queues: ['images'], concurrency: 2, prefetch: 0, logger: false, name: 'images-worker-1', heartbeatMs: 200 },
    );
    workers.push(images);
    await images.ready;
    await client.enqueueMany('resizeImage', [
      { imageId: 'img-hero-banner', widths: [640, 1280, 2560], format: 'png' },
      { imageId: 'img-product-1138', widths: [320, 640] },
      { imageId: 'img-product-1139', widths: [320, 640] },
      { imageId: 'img-product-1140', widths: [320, 640] },
    ]);
    const reports = createWorker(jobs, { buildDailyReport: async () => {} }, { redis: redisUrl, prefix, queues: ['reports'], concurrency: 1, logger: false, name: 'reports-worker-1' });
    workers.push(reports);
    await reports.ready;
    // The worker registry lists running jobs from the heartbeat after they started.
    const inspector = createInspector({ redis: redisUrl, prefix });
    try {
      await until(async () => (await inspector.workers()).some((w) => w.running.length >= 2), 'two resizes to show as running');
    } finally {
      await inspector.close();
    }

    const dead = await client.deadLetters.list('webhooks');
    return {
      prefix,
      deadJobId: dead[0]?.id ?? report.id,
      completedJobId: flaky.id,
      stop: async () => {
        release();
        await Promise.all(workers.map((w) => w.close()));
        await client.close();
        await deleteUnder(raw, prefix);
        raw.disconnect();
      },
    };
  } catch (err) {
    release();
    await Promise.all(workers.map((w) => w.close().catch(() => undefined)));
    await client.close().catch(() => undefined);
    await deleteUnder(raw, prefix).catch(() => undefined);
    raw.disconnect();
    throw err;
  }
}

async function deleteUnder(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
