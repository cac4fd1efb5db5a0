/**
 * Traces across processes: the producer (this process) and a worker in a child process each register an
 * OpenTelemetry SDK with an in-memory exporter; the attempt's CONSUMER span in the worker is a child of (and links
 * to) the PRODUCER span of the enqueue here, through the trace context stored in the job.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createClient, createMetrics, createWorker } from '../src/index.js';
import { queueKeys } from '../src/keys.js';
import { cleanupRegistry, deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';
import { recordOf, registerInMemoryTracing, type SpanRecord } from './fixtures/otel.js';
import { tracedJobs } from './fixtures/traced-jobs.js';

const defer = cleanupRegistry();
// Registered before any client is created: tracing is decided when a client or worker is created.
const exporter = registerInMemoryTracing();

/** Runs the traced worker process until it has finished `expect` jobs; returns its spans. */
async function runWorker(prefix: string, expect: number): Promise<SpanRecord[]> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/traced-worker.ts'], {
    cwd: root,
    env: { ...process.env, REDIS_URL: redisUrl(), JC_PREFIX: prefix, JC_EXPECT: String(expect) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await waitFor(() => {
    if (child.exitCode !== null && !out.includes('done\n')) throw new Error(`the worker exited early: ${out}${err}`);
    return out.includes('done\n');
  }, 'the traced worker to finish', 30_000);
  return out
    .split('\n')
    .filter((l) => l.startsWith('span '))
    .map((l) => JSON.parse(l.slice(5)) as SpanRecord);
}

describe('traces across services', () => {
  it("continues the producer's trace in a worker in another process", async () => {
    const prefix = testPrefix('tracing');
    const client = createClient(tracedJobs, { redis: redisUrl(), prefix, logger: false });
    const raw = rawRedis();
    defer(async () => {
      await client.close();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });

    // The enqueue runs inside an application span: the producer span is its child.
    const app = trace.getTracer('app').startSpan('http request');
    const { id } = await context.with(trace.setSpan(context.active(), app), () => client.enqueue('traced', { n: 1 }));
    app.end();
    const ids = (await client.enqueueMany('traced', [{ n: 2 }, { n: 3 }])).map((r) => r.id);

    const local = exporter.getFinishedSpans().map(recordOf);
    const producers = local.filter((s) => s.kind === SpanKind.PRODUCER);
    expect(producers).toHaveLength(2);
    const [single, batch] = producers as [SpanRecord, SpanRecord];
    expect(single.name).toBe('enqueue traced');
    expect(single.parentSpanId).toBe(app.spanContext().spanId);
    expect(single.attributes).toMatchObject({
      'messaging.system': 'jobcraft',
      'messaging.destination.name': 'traced',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'enqueue',
      'messaging.message.id': id,
      'jobcraft.job.name': 'traced',
    });
    expect(batch.attributes['messaging.batch.message_count']).toBe(2);

    // The stored job carries the producer span's context (and nothing bigger than the bound).
    const stored = JSON.parse((await raw.hget(queueKeys(prefix, 'traced').jobs, id)) as string) as { tc: string };
    expect(stored.tc).toBe(`00-${single.traceId}-${single.spanId}-01`);

    const remote = await runWorker(prefix, 3);
    const consumers = remote.filter((s) => s.kind === SpanKind.CONSUMER);
    expect(consumers).toHaveLength(3);
    const forSingle = consumers.find((s) => s.attributes['messaging.message.id'] === id) as SpanRecord;
    expect(forSingle.name).toBe('process traced');
    expect(forSingle.traceId).toBe(single.traceId);
    expect(forSingle.parentSpanId).toBe(single.spanId);
    expect(forSingle.links).toEqual([{ traceId: single.traceId, spanId: single.spanId }]);
    expect(forSingle.attributes).toMatchObject({
      'messaging.system': 'jobcraft',
      'messaging.destination.name': 'traced',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'jobcraft.job.name': 'traced',
      'jobcraft.job.attempt': 1,
    });
    // Both jobs of the batch continue the batch's span.
    for (const batchId of ids) {
      const span = consumers.find((s) => s.attributes['messaging.message.id'] === batchId) as SpanRecord;
      expect(span.parentSpanId).toBe(batch.spanId);
      expect(span.traceId).toBe(batch.traceId);
    }
    // The handler ran inside the attempt's span.
    const work = remote.filter((s) => s.name === 'handler work');
    expect(work).toHaveLength(3);
    expect(work.map((w) => w.parentSpanId).sort()).toEqual(consumers.map((c) => c.spanId).sort());
  });

  it('stores no trace context when tracing is turned off', async () => {
    const prefix = testPrefix('tracing-off');
    const client = createClient(tracedJobs, { redis: redisUrl(), prefix, logger: false, tracing: false });
    const raw = rawRedis();
    defer(async () => {
      await client.close();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const before = exporter.getFinishedSpans().length;
    const { id } = await client.enqueue('traced', { n: 1 });
    expect(JSON.parse((await raw.hget(queueKeys(prefix, 'traced').jobs, id)) as string)).not.toHaveProperty('tc');
    expect(exporter.getFinishedSpans()).toHaveLength(before);
  });
});

describe('a job enqueued without a trace context', () => {
  it('gets a root CONSUMER span, not a child of whatever span was active when the worker was created', async () => {
    const prefix = testPrefix('tracing-root');
    // The producer stores no context (tracing off on its side).
    const client = createClient(tracedJobs, { redis: redisUrl(), prefix, logger: false, tracing: false });
    const raw = rawRedis();
    const startup = trace.getTracer('app').startSpan('service startup');
    let completed = 0;
    const worker = context.with(trace.setSpan(context.active(), startup), () =>
      createWorker(tracedJobs, { traced: () => {} }, { redis: redisUrl(), prefix, logger: false }),
    );
    startup.end();
    worker.on('completed', () => completed++);
    defer(async () => {
      await worker.close();
      await client.close();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const { id } = await client.enqueue('traced', { n: 1 });
    await waitFor(() => completed === 1, 'the job to complete');
    const consumer = exporter
      .getFinishedSpans()
      .map(recordOf)
      .find((s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.message.id'] === id && s.attributes['messaging.destination.name'] === 'traced');
    expect(consumer).toBeDefined();
    expect(consumer?.traceId).not.toBe(startup.spanContext().traceId);
    expect(consumer?.parentSpanId).toBeUndefined();
  });
});

describe('metrics and traces together', () => {
  it('both see every enqueue and attempt (their hooks are joined)', async () => {
    const prefix = testPrefix('tracing-metrics');
    const metrics = createMetrics();
    const client = createClient(tracedJobs, { redis: redisUrl(), prefix, logger: false, metrics });
    const raw = rawRedis();
    let ran = 0;
    const worker = createWorker(tracedJobs, { traced: () => void ran++ }, { redis: redisUrl(), prefix, logger: false, metrics });
    let completed = 0;
    worker.on('completed', () => completed++);
    defer(async () => {
      await worker.close();
      await client.close();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    // Only this test's spans (ids restart on every prefix).
    const before = exporter.getFinishedSpans().length;
    const ids = (await client.enqueueMany('traced', [{ n: 1 }, { n: 2 }])).map((r) => r.id);
    await waitFor(() => completed === 2, 'both jobs to complete');
    expect(ran).toBe(2);
    const spans = exporter.getFinishedSpans().slice(before).map(recordOf);
    const producers = spans.filter((s) => s.kind === SpanKind.PRODUCER);
    expect(producers).toHaveLength(1);
    const producer = producers[0] as SpanRecord;
    expect(producer.attributes['messaging.batch.message_count']).toBe(2);
    for (const id of ids) {
      const consumer = spans.find((s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.message.id'] === id);
      expect(consumer?.parentSpanId).toBe(producer.spanId);
    }
    const { body } = await metrics.scrape();
    expect(body).toContain('jobcraft_jobs_enqueued_total{queue="traced",job="traced"} 2');
    expect(body).toContain('jobcraft_jobs_processed_total{queue="traced",job="traced",status="completed"} 2');
    expect(body).toContain('jobcraft_job_duration_seconds_count{queue="traced",job="traced"} 2');
  });
});
