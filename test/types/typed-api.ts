/**
 * Type-level tests of the typed API over jobs.schema.ts. Never executed: `tsc --noEmit` (part of `npm test`)
 * checks that every correct call compiles, and test/codegen-types.test.ts that each `@ts-expect-error -- TSnnnn`
 * line fails with exactly that error code (any error would satisfy a bare directive). Everything sits inside
 * functions nobody calls.
 */
import { createClient, createWorker, type JobContext, type Worker } from '../../src/index.js';
import { jobs } from '../../jobs.schema.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

export async function enqueueTypes(): Promise<void> {
  const client = createClient(jobs);

  // Correct calls compile.
  await client.enqueue('sendWelcomeEmail', { userId: 'u1', email: 'a@example.com' });
  await client.enqueue('sendWelcomeEmail', { userId: 'u1', email: 'a@example.com', locale: 'de' }, { delay: '5s', jobId: 'welcome-u1' });
  await client.enqueue('resizeImage', { imageId: 'i1', widths: [100, 200] });
  await client.enqueue('resizeImage', { imageId: 'i1', widths: [100], quality: '80%', format: 'png' }, { priority: 2 });
  await client.enqueue('buildDailyReport', { day: '2024-01-31' }, { runAt: new Date() });
  await client.enqueueMany('deliverWebhook', [{ url: 'https://example.com/hook', event: 'invoice.paid', body: { id: 1 } }]);
  const { id, duplicate } = await client.enqueue('buildDailyReport', { day: '2024-01-31' });
  assertType<Equal<typeof id, string>>();
  assertType<Equal<typeof duplicate, boolean>>();

  // A job name that is not declared.
  // @ts-expect-error -- TS2345 'sendWelcomeMail' is not a job name
  await client.enqueue('sendWelcomeMail', { userId: 'u1', email: 'a@example.com' });

  // A field of the wrong type.
  // @ts-expect-error -- TS2322 userId must be a string
  await client.enqueue('sendWelcomeEmail', { userId: 1, email: 'a@example.com' });

  // A missing required field.
  // @ts-expect-error -- TS2345 email is required
  await client.enqueue('sendWelcomeEmail', { userId: 'u1' });

  // A value outside an enum.
  // @ts-expect-error -- TS2322 locale is 'en' | 'de'
  await client.enqueue('sendWelcomeEmail', { userId: 'u1', email: 'a@example.com', locale: 'fr' });

  // A field the schema does not declare.
  // @ts-expect-error -- TS2353 unknown field
  await client.enqueue('buildDailyReport', { day: '2024-01-31', extra: true });

  // The payload of another job.
  // @ts-expect-error -- TS2353 a report payload for an email job
  await client.enqueue('sendWelcomeEmail', { day: '2024-01-31' });

  // A wrong element type inside an array, in a batch.
  // @ts-expect-error -- TS2322 widths are numbers
  await client.enqueueMany('resizeImage', [{ imageId: 'i1', widths: ['100'] }]);

  // Enqueue options are typed too.
  // @ts-expect-error -- TS2322 priority is a number
  await client.enqueue('buildDailyReport', { day: '2024-01-31' }, { priority: 'high' });

  // Dead letters are per declared queue.
  await client.deadLetters.list('email');
  await client.deadLetters.count('webhooks');
  // @ts-expect-error -- TS2345 'mail' is not a queue of the job set
  await client.deadLetters.count('mail');
}

export function workerTypes(): Worker[] {
  const workers: Worker[] = [];

  // A handler for every job compiles; handlers receive the schema's output type.
  workers.push(
    createWorker(jobs, {
      sendWelcomeEmail: async (payload, ctx) => {
        assertType<Equal<typeof payload.locale, 'en' | 'de' | undefined>>();
        assertType<Equal<typeof ctx.name, 'sendWelcomeEmail'>>();
        const signal: AbortSignal = ctx.signal;
        void signal;
      },
      deliverWebhook: async ({ url, event, body }) => {
        void [url, event, body];
      },
      resizeImage: async (payload) => {
        // Defaults are applied and transforms run: the handler sees a number and a definite format.
        assertType<Equal<typeof payload.quality, number>>();
        assertType<Equal<typeof payload.format, 'jpeg' | 'png' | 'webp'>>();
        // @ts-expect-error -- TS2322 quality is a number after the transform, not a string
        const q: string = payload.quality;
        void q;
      },
      buildDailyReport: async ({ day }, ctx: JobContext<'buildDailyReport'>) => {
        void [day, ctx.attempt, ctx.maxAttempts, ctx.enqueuedAt];
      },
    }),
  );

  // A missing handler.
  workers.push(
    // @ts-expect-error -- TS2345 buildDailyReport has no handler
    createWorker(jobs, {
      sendWelcomeEmail: async () => {},
      deliverWebhook: async () => {},
      resizeImage: async () => {},
    }),
  );

  // An extra handler for a job that is not declared.
  workers.push(
    createWorker(jobs, {
      sendWelcomeEmail: async () => {},
      deliverWebhook: async () => {},
      resizeImage: async () => {},
      buildDailyReport: async () => {},
      // @ts-expect-error -- TS2353 sendNewsletter is not a job
      sendNewsletter: async () => {},
    }),
  );

  // A handler whose payload type is wrong.
  workers.push(
    createWorker(jobs, {
      // @ts-expect-error -- TS2322 userId is a string, not a number
      sendWelcomeEmail: async (payload: { userId: number; email: string }) => {
        void payload;
      },
      deliverWebhook: async () => {},
      resizeImage: async () => {},
      buildDailyReport: async () => {},
    }),
  );

  // A handler reading a field its payload does not have.
  workers.push(
    createWorker(jobs, {
      sendWelcomeEmail: async (payload) => {
        // @ts-expect-error -- TS2339 no such field
        void payload.phone;
      },
      deliverWebhook: async () => {},
      resizeImage: async () => {},
      buildDailyReport: async () => {},
    }),
  );

  // A worker for one queue needs only that queue's handlers.
  workers.push(createWorker(jobs, { sendWelcomeEmail: async () => {} }, { queues: ['email'] }));
  workers.push(createWorker(jobs, { sendWelcomeEmail: async () => {}, deliverWebhook: async () => {} }, { queues: ['email', 'webhooks'] }));

  // ... but it still needs all of them.
  // @ts-expect-error -- TS2345 the email queue's handler is missing
  workers.push(createWorker(jobs, {}, { queues: ['email'] }));

  // ... and only declared queues can be named.
  const all = { sendWelcomeEmail: async () => {}, deliverWebhook: async () => {}, resizeImage: async () => {}, buildDailyReport: async () => {} };
  // @ts-expect-error -- TS2820 'mail' is not a queue of the job set
  workers.push(createWorker(jobs, all, { queues: ['mail'] }));

  // Events are typed.
  const worker = workers[0] as Worker;
  worker.on('completed', (e) => void e.job.id);
  worker.on('dead', (e) => void e.reason);
  // @ts-expect-error -- TS2345 'finished' is not an event
  worker.on('finished', () => {});

  return workers;
}
