/**
 * The generated functions against a real Redis: enqueue takes a payload's input form, the handler receives the
 * output form (defaults filled in, transforms run at dequeue), and the connection settings reach both sides.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { JobValidationError } from '../src/index.js';
import {
  closeDefaultJobsClient,
  configure,
  createJobsClient,
  createWorker,
  defaultJobsClient,
  enqueueResizeImage,
  type ResizeImagePayload,
  type SendWelcomeEmailInput,
  type SendWelcomeEmailPayload,
} from '../generated/index.js';
import { createJobsClient as createGoldenJobsClient } from './codegen-fixtures/golden/generated/index.js';
import { clearPrefix, redisUrl, testPrefix, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('generated code at run time', () => {
  it('enqueue accepts the input form; the handler receives it transformed, with defaults filled in', async () => {
    const prefix = testPrefix('codegen-runtime');
    configure({ redis: redisUrl(), prefix });
    cleanups.push(async () => {
      await closeDefaultJobsClient();
      await clearPrefix(prefix);
    });

    // quality as "75%" (a string the schema turns into a number), format left out (the schema's default is webp).
    const { id } = await enqueueResizeImage({ imageId: 'img-7', widths: [320, 640], quality: '75%' });
    const waiting = await defaultJobsClient().getJob(id);
    expect(waiting.state).toBe('waiting');
    expect(waiting.payload).toEqual({ imageId: 'img-7', widths: [320, 640], quality: '75%' });

    const received: ResizeImagePayload[] = [];
    const worker = createWorker({ resizeImage: (payload) => void received.push(payload) }, { queues: ['images'], logger: false });
    cleanups.push(() => worker.close());
    await waitFor(() => received.length === 1, 'the resizeImage handler to run');
    expect(received[0]).toEqual({ imageId: 'img-7', widths: [320, 640], format: 'webp', quality: 75 });
    expect(worker.queues).toEqual(['images']);
  });

  it('createJobsClient and explicit worker options work without configure; invalid payloads are refused at enqueue', async () => {
    const prefix = testPrefix('codegen-client');
    const client = createJobsClient({ redis: redisUrl(), prefix });
    cleanups.push(async () => {
      await client.close();
      await clearPrefix(prefix);
    });
    const received: SendWelcomeEmailPayload[] = [];
    const worker = createWorker(
      { sendWelcomeEmail: (payload) => void received.push(payload) },
      { queues: ['email'], redis: redisUrl(), prefix, logger: false },
    );
    cleanups.push(() => worker.close());

    await client.enqueueSendWelcomeEmail({ userId: 'u-1', email: 'ada@example.com', locale: 'de' });
    await waitFor(() => received.length === 1, 'the sendWelcomeEmail handler to run');
    expect(received[0]).toEqual({ userId: 'u-1', email: 'ada@example.com', locale: 'de' });

    // The types cannot say "an email address"; the schema can, so the runtime refuses it before writing.
    const invalid: SendWelcomeEmailInput = { userId: 'u-2', email: 'not-an-email' };
    await expect(client.enqueueSendWelcomeEmail(invalid)).rejects.toBeInstanceOf(JobValidationError);
  });

  it('.catchall(): enqueue takes extra keys (typed loosely); the schema checks them against the catch-all at enqueue', async () => {
    const prefix = testPrefix('codegen-catchall');
    const client = createGoldenJobsClient({ redis: redisUrl(), prefix });
    cleanups.push(async () => {
      await client.close();
      await clearPrefix(prefix);
    });
    const payload = { ts: 'now', n: 3, counts: { total: 1, eu: 2 }, labels: { id: 1, en: 'x' } };
    const { id } = await client.enqueueCatchallShapes(payload);
    expect((await client.getJob(id)).payload).toEqual(payload);

    // Compiles (an extra key may hold any type a known property has), but the catch-all is z.number().
    const wrong = client.enqueueCatchallShapes({ ts: 'now', n: 'three', counts: { total: 1 }, labels: { id: 1 } });
    await expect(wrong).rejects.toBeInstanceOf(JobValidationError);
    await expect(wrong).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['n'] })] });
  });

  it('the examples: a producer process enqueues through generated functions, a worker process runs every job', async () => {
    const prefix = testPrefix('codegen-examples');
    const env = { ...process.env, REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix };
    cleanups.push(async () => {
      await clearPrefix(prefix);
    });
    const run = (script: string) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env });
      const output = { text: '' };
      child.stdout.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { child, output, exited };
    };

    const worker = run('examples/worker.ts');
    cleanups.push(async () => {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    });
    await waitFor(() => worker.output.text.includes('worker serving'), 'the example worker to start', 60_000);

    const producer = run('examples/producer.ts');
    expect(await producer.exited, producer.output.text).toBe(0);
    const enqueued = producer.output.text.split('\n').filter((l) => l.startsWith('enqueued '));
    expect(enqueued).toHaveLength(6);
    expect(enqueued.filter((l) => l.includes('duplicate'))).toHaveLength(1);

    // Five distinct jobs (the duplicate wrote nothing), the report one second late.
    const completed = () => worker.output.text.split('\n').filter((l) => l.startsWith('completed '));
    await waitFor(() => completed().length === 5, 'the example worker to complete five jobs', 30_000);
    expect(completed().map((l) => l.split(' ')[1]).sort()).toEqual([
      'buildDailyReport',
      'deliverWebhook',
      'resizeImage',
      'sendWelcomeEmail',
      'sendWelcomeEmail',
    ]);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  }, 90_000);
});
