/**
 * Type tests of the generated code (generated/). Never run, only compiled: `tsc --noEmit` checks that the correct
 * calls compile and that each line under `@ts-expect-error` fails; test/codegen-types.test.ts also checks that each
 * fails with the error code named in its comment, and for no other reason.
 */
import {
  createJobsClient,
  createWorker,
  enqueueResizeImage,
  enqueueSendWelcomeEmail,
  JobValidationError,
  PermanentError,
  RedisUnavailableError,
  silentLogger,
  type EnqueueResult,
  type Handlers,
  type JobContext,
  type Logger,
  type PayloadIssue,
  type ResizeImageHandler,
  type ResizeImageInput,
  type ResizeImagePayload,
  type WorkerOptions,
} from '../generated/index.js';
import { enqueueCatchallShapes, type CatchallShapesHandler, type CatchallShapesInput } from './codegen-fixtures/golden/generated/index.js';
import {
  enqueueSendNotice,
  enqueueSendPinnedNotice,
  type SendNoticeHandler,
  type SendNoticePayloadV1,
  type SendPinnedNoticeHandler,
} from './codegen-fixtures/golden/generated/index.js';

export async function versionTypes(): Promise<void> {
  // A versioned job: enqueue takes the current input; a pinned one (emitVersion 1) version 1's.
  await enqueueSendNotice({ to: ['a@x.io'], urgent: true });
  await enqueueSendPinnedNotice({ to: 'a@x.io' });
  // @ts-expect-error -- TS2322 the pinned job's producers write version 1 (to: string)
  await enqueueSendPinnedNotice({ to: ['a@x.io'] });
  // @ts-expect-error -- TS2322 version 1's input is not the current one
  await enqueueSendNotice({ to: 'a@x.io', urgent: true });
  const v1: SendNoticePayloadV1 = { to: 'a@x.io' };
  void v1;
  // Handlers see the current version only.
  const notice: SendNoticeHandler = (p) => {
    const channel: 'mail' | 'sms' = p.channel;
    void channel;
  };
  const pinned: SendPinnedNoticeHandler = (p) => {
    const to: string[] = p.to;
    void to;
  };
  void notice;
  void pinned;
}

export async function enqueueTypes(): Promise<void> {
  // Correct calls compile: the input form (quality as "80%" or a number, format optional).
  await enqueueSendWelcomeEmail({ userId: 'u1', email: 'ada@example.com' });
  await enqueueSendWelcomeEmail({ userId: 'u1', email: 'ada@example.com', locale: 'de' }, { delay: '5s', jobId: 'welcome-u1' });
  await enqueueResizeImage({ imageId: 'img-1', widths: [320, 640], quality: '80%' });
  await enqueueResizeImage({ imageId: 'img-1', widths: [320], quality: 80, format: 'png' });
  const client = createJobsClient({ prefix: 'types' });
  await client.enqueueResizeImage({ imageId: 'img-1', widths: [320] });
  await client.enqueue('buildDailyReport', { day: '2026-01-31' });
  const input: ResizeImageInput = { imageId: 'img-1', widths: [1] };
  await enqueueResizeImage(input);

  // @ts-expect-error -- TS2322 wrong field type: widths are numbers
  await enqueueResizeImage({ imageId: 'img-1', widths: ['320'] });
  // @ts-expect-error -- TS2345 missing required field: email
  await enqueueSendWelcomeEmail({ userId: 'u1' });
  // @ts-expect-error -- TS2322 a value outside the enum
  await enqueueSendWelcomeEmail({ userId: 'u1', email: 'ada@example.com', locale: 'fr' });
  // @ts-expect-error -- TS2345 unknown job
  await client.enqueue('sendGoodbyeEmail', {});
  // @ts-expect-error -- TS2339 no enqueue function for an unknown job
  await client.enqueueSendGoodbyeEmail({});
  // @ts-expect-error -- TS2353 a field the schema does not have
  await enqueueResizeImage({ imageId: 'img-1', widths: [320], colour: 'red' });
}

export function handlerTypes(): void {
  // The handler receives the output form: quality is always a number, format always present.
  const resize: ResizeImageHandler = async ({ quality, format }) => {
    const q: number = quality;
    const f: 'jpeg' | 'png' | 'webp' = format;
    void q;
    void f;
  };
  const all: Handlers = {
    sendWelcomeEmail: async ({ email, locale }) => void `${email} ${locale ?? ''}`,
    deliverWebhook: async ({ url }, ctx) => void `${url} ${ctx.attempt}`,
    resizeImage: resize,
    buildDailyReport: async ({ day }) => void day,
  };
  createWorker(all);
  createWorker({ resizeImage: resize }, { queues: ['images'] });
  createWorker({ resizeImage: resize, buildDailyReport: all.buildDailyReport }, { queues: ['images', 'reports'] });
  const payload: ResizeImagePayload = { imageId: 'i', widths: [1], format: 'webp', quality: 80 };
  void payload;

  // @ts-expect-error -- TS2322 handler with the wrong payload type: quality arrives as a number
  createWorker({ resizeImage: async (p: { quality: string }) => void p }, { queues: ['images'] });
  // @ts-expect-error -- TS2345 missing handler: without a queues option every job needs one
  createWorker({ resizeImage: resize });
  // @ts-expect-error -- TS2353 extra handler: sendWelcomeEmail's queue is not served
  createWorker({ resizeImage: resize, sendWelcomeEmail: all.sendWelcomeEmail }, { queues: ['images'] });
  // @ts-expect-error -- TS2322 unknown queue
  createWorker(all, { queues: ['nope'] });
  // @ts-expect-error -- TS2353 a handler for a job that does not exist
  createWorker({ ...all, sendGoodbyeEmail: async () => {} });
}

/** A service needs nothing but the generated index: the runtime's errors and handler types come with it. */
export async function fromTheIndexOnly(ctx: JobContext, logger: Logger): Promise<EnqueueResult | undefined> {
  try {
    return await enqueueSendWelcomeEmail({ userId: 'u1', email: 'ada@example.com' });
  } catch (err) {
    if (err instanceof JobValidationError) {
      const issues: readonly PayloadIssue[] = err.issues;
      logger.warn('invalid payload', { issues });
      return undefined;
    }
    if (err instanceof RedisUnavailableError) throw new PermanentError(`no Redis in job ${ctx.id}`);
    throw err;
  }
}
export const quietWorkerOptions: WorkerOptions = { logger: silentLogger };

/**
 * `.catchall()` (the golden fixture's `catchallShapes`: `{ ts: string, max_users?: number, counts, labels }` with a
 * `number` catch-all): enqueue takes object literals with the known fields and extra keys, though zod's own input type
 * takes none; a known field of the wrong type still fails. The handler reads the known fields as typed and extra keys
 * as the catch-all type (or undefined, under noUncheckedIndexedAccess).
 */
export async function catchallTypes(): Promise<void> {
  await enqueueCatchallShapes({ ts: 'now', counts: { total: 1 }, labels: { id: 1 } });
  await enqueueCatchallShapes({ ts: 'now', n: 3, max_users: 5, counts: { total: 1, eu: 2 }, labels: { id: 1, en: 'x' } });
  const input: CatchallShapesInput = { ts: 'now', n: 3, counts: { total: 1 }, labels: { id: 1 } };
  await enqueueCatchallShapes(input);

  // @ts-expect-error -- TS2322 a known field of the wrong type: ts is a string
  await enqueueCatchallShapes({ ts: 3, counts: { total: 1 }, labels: { id: 1 } });
  // @ts-expect-error -- TS2322 a known field of a nested catch-all object of the wrong type: total is a number
  await enqueueCatchallShapes({ ts: 'now', counts: { total: 'one' }, labels: { id: 1 } });
  // @ts-expect-error -- TS2345 missing required field: ts
  await enqueueCatchallShapes({ counts: { total: 1 }, labels: { id: 1 } });

  const handler: CatchallShapesHandler = async (payload) => {
    const ts: string = payload.ts;
    const extra: number | undefined = payload['n'];
    const label: string | undefined = payload.labels['en'];
    const id: number = payload.labels.id;
    void [ts, extra, label, id];
    // @ts-expect-error -- TS2322 an extra key holds the catch-all type (a number), not a string
    const wrong: string | undefined = payload['n'];
    // @ts-expect-error -- TS2322 a known field keeps its own type
    const wrongTs: number = payload.ts;
    void [wrong, wrongTs];
  };
  void handler;
}
