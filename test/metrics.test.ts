/**
 * Prometheus metrics against real Redis: after N completions, failures, retries and dead letters the counters say
 * N, the histograms count N, refused enqueues are counted by reason, the exposition text is well formed, and no
 * label carries a job id.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createMetrics, createWorker, defineJobs, JobValidationError, PermanentError, type ClientOptions, type WorkerOptions } from '../src/index.js';
import { queueKeys } from '../src/keys.js';
import { cleanupRegistry, deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  ok: { payload: z.object({ n: z.number() }), attempts: 1 },
  flaky: { payload: z.object({ n: z.number() }), attempts: 2, backoff: { type: 'fixed', delay: 10 } },
  doomed: { payload: z.object({ n: z.number() }), queue: 'other', attempts: 3 },
});

const defer = cleanupRegistry();

/** One sample line of the text exposition format: name, optional labels, value. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/;

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses exposition text, failing on any line that is neither a comment nor a well-formed sample. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1] as string] = lm[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[4]) });
  }
  return out;
}

const valueOf = (samples: Sample[], name: string, labels: Record<string, string>): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)
    ?.value;

function setup(name: string) {
  const prefix = testPrefix(name);
  const metrics = createMetrics();
  const client = createClient(jobs, { redis: redisUrl(), prefix, metrics, logger: false });
  const raw = rawRedis();
  defer(async () => {
    await client.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  return { prefix, metrics, client };
}

describe('worker and client metrics', () => {
  it('count completions, failures, retries, dead letters, enqueues and refusals, and time every attempt', async () => {
    const { prefix, metrics, client } = setup('metrics');
    const N = 6;
    const flakySeen = new Set<number>();
    let completedEvents = 0;
    let deadEvents = 0;
    const worker = createWorker(
      jobs,
      {
        ok: () => {},
        // Each flaky job fails its first attempt and succeeds on the second.
        flaky: ({ n }) => {
          if (!flakySeen.has(n)) {
            flakySeen.add(n);
            throw new Error('first attempt fails');
          }
        },
        doomed: () => {
          throw new PermanentError('never');
        },
      },
      { redis: redisUrl(), prefix, logger: false, metrics, concurrency: 4 },
    );
    defer(() => worker.close());
    worker.on('completed', () => completedEvents++);
    worker.on('dead', () => deadEvents++);

    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push((await client.enqueue('ok', { n: i })).id);
    ids.push(...(await client.enqueueMany('flaky', Array.from({ length: N }, (_, i) => ({ n: i })))).map((r) => r.id));
    for (let i = 0; i < N; i++) ids.push((await client.enqueue('doomed', { n: i })).id);
    // Refused before anything is written: a schema failure, and a batch of 3 that is not JSON.
    await expect(client.enqueue('ok', { n: 'x' } as never)).rejects.toBeInstanceOf(JobValidationError);
    await expect(client.enqueueMany('ok', [{ n: 1 }, { n: 2 }, { n: () => 1 } as never])).rejects.toBeInstanceOf(JobValidationError);
    // A duplicate is not counted as enqueued.
    await client.enqueue('ok', { n: 99 }, { jobId: 'same' });
    await client.enqueue('ok', { n: 99 }, { jobId: 'same' });
    ids.push('same');

    await waitFor(() => completedEvents === 2 * N + 1 && deadEvents === N, 'every job to end');
    const { contentType, body } = await metrics.scrape();
    expect(contentType).toMatch(/^text\/plain/);
    const samples = parseExposition(body);
    const processed = (queue: string, job: string, status: string) => valueOf(samples, 'jobcraft_jobs_processed_total', { queue, job, status });

    expect(processed('default', 'ok', 'completed')).toBe(N + 1);
    expect(processed('default', 'flaky', 'completed')).toBe(N);
    expect(processed('default', 'flaky', 'failed')).toBe(N);
    expect(processed('default', 'flaky', 'retried')).toBe(N);
    expect(processed('other', 'doomed', 'failed')).toBe(N);
    expect(processed('other', 'doomed', 'dead')).toBe(N);
    expect(processed('default', 'ok', 'failed')).toBeUndefined();

    // Every attempt is timed; first attempts' waits are observed (the flaky retries are not first attempts).
    expect(valueOf(samples, 'jobcraft_job_duration_seconds_count', { queue: 'default', job: 'flaky' })).toBe(2 * N);
    expect(valueOf(samples, 'jobcraft_job_duration_seconds_count', { queue: 'default', job: 'ok' })).toBe(N + 1);
    expect(valueOf(samples, 'jobcraft_job_duration_seconds_bucket', { queue: 'other', job: 'doomed', le: '+Inf' })).toBe(N);
    expect(valueOf(samples, 'jobcraft_job_wait_seconds_count', { queue: 'default', job: 'flaky' })).toBe(N);
    expect(valueOf(samples, 'jobcraft_job_wait_seconds_count', { queue: 'other', job: 'doomed' })).toBe(N);
    // Buckets are cumulative and end at the count.
    const buckets = samples.filter((s) => s.name === 'jobcraft_job_duration_seconds_bucket' && s.labels.job === 'ok').map((s) => s.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(N + 1);
    expect(valueOf(samples, 'jobcraft_worker_active_jobs', { queue: 'default' })).toBe(0);

    expect(valueOf(samples, 'jobcraft_jobs_enqueued_total', { queue: 'default', job: 'ok' })).toBe(N + 1);
    expect(valueOf(samples, 'jobcraft_jobs_enqueued_total', { queue: 'default', job: 'flaky' })).toBe(N);
    expect(valueOf(samples, 'jobcraft_jobs_enqueued_total', { queue: 'other', job: 'doomed' })).toBe(N);
    expect(valueOf(samples, 'jobcraft_enqueue_refused_total', { queue: 'default', job: 'ok', reason: 'invalid' })).toBe(1);
    expect(valueOf(samples, 'jobcraft_enqueue_refused_total', { queue: 'default', job: 'ok', reason: 'not_json' })).toBe(3);

    // Bounded cardinality: labels are queue, job, status, reason, le only, and no value is a job id.
    const labelNames = new Set(samples.flatMap((s) => Object.keys(s.labels)));
    expect([...labelNames].sort()).toEqual(['job', 'le', 'queue', 'reason', 'status']);
    const values = new Set(samples.flatMap((s) => Object.values(s.labels)));
    for (const id of ids) expect(values.has(id)).toBe(false);
    // Types follow the conventions: _total only on counters.
    expect(body).toContain('# TYPE jobcraft_jobs_processed_total counter');
    expect(body).toContain('# TYPE jobcraft_job_duration_seconds histogram');
    expect(body).toContain('# TYPE jobcraft_worker_active_jobs gauge');
  });

  it('registers in a registry the user gives, next to the user\'s own metrics, and answers over node:http', async () => {
    const prom = await import('prom-client');
    const registry = new prom.Registry();
    new prom.Counter({ name: 'app_requests_total', help: 'requests', registers: [registry] });
    const metrics = createMetrics({ registry });
    expect(metrics.registry).toBe(registry);
    // A metrics object over the user's own registry type is accepted by both options.
    const asOptions: { worker: WorkerOptions; client: ClientOptions } = { worker: { metrics }, client: { metrics } };
    expect(asOptions.worker.metrics).toBe(metrics);
    const merged = prom.Registry.merge([registry, new prom.Registry()]);
    const text = await merged.metrics();
    expect(text).toContain('app_requests_total 0');
    expect(text).toContain('# TYPE jobcraft_jobs_processed_total counter');

    const http = await import('node:http');
    const server = http.createServer(metrics.httpHandler());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    parseExposition(await res.text());
  });
});

describe('job labels an attacker cannot multiply', () => {
  /** Writes a job straight into a queue, as a foreign producer (or an attacker with write access to Redis) could. */
  async function writeRaw(prefix: string, id: string, envelope: string): Promise<void> {
    const raw = rawRedis();
    const k = queueKeys(prefix, 'default');
    await raw.multi().hset(k.jobs, id, envelope).rpush(k.wait, id).rpush(k.notify, '1').exec();
    raw.disconnect();
  }

  /** Every `job` label value of a scrape. */
  async function jobLabels(metrics: ReturnType<typeof createMetrics>): Promise<Set<string>> {
    return new Set(parseExposition((await metrics.scrape()).body).flatMap((s) => (s.labels.job === undefined ? [] : [s.labels.job])));
  }

  it('dead letters of names the worker does not declare are counted under job="(unknown)", never one series per name', async () => {
    const { prefix, metrics } = setup('metrics-unknown');
    let dead = 0;
    const worker = createWorker(jobs, { ok: () => {}, flaky: () => {} }, { redis: redisUrl(), prefix, logger: false, metrics, queues: ['default'] });
    defer(() => worker.close());
    worker.on('dead', () => dead++);
    const N = 30;
    // Small envelopes of undeclared names (unknown_job), and envelopes too deep to parse whose head names an undeclared
    // job (invalid_payload: the name is read from the head only).
    const deep = `${'['.repeat(300)}${']'.repeat(300)}`;
    for (let i = 0; i < N; i++) await writeRaw(prefix, `u${i}`, JSON.stringify({ n: `ghost${i}`, t: 1, p: {} }));
    for (let i = 0; i < N; i++) await writeRaw(prefix, `d${i}`, `{"n":"deep${i}","t":1,"p":${deep}}`);
    await waitFor(() => dead === 2 * N, 'every foreign job to be dead-lettered');
    const labels = await jobLabels(metrics);
    for (let i = 0; i < N; i++) {
      expect(labels.has(`ghost${i}`)).toBe(false);
      expect(labels.has(`deep${i}`)).toBe(false);
    }
    const samples = parseExposition((await metrics.scrape()).body);
    expect(valueOf(samples, 'jobcraft_jobs_processed_total', { queue: 'default', job: '(unknown)', status: 'dead' })).toBe(2 * N);
  });

  it.each([
    ['with `jobs` given to createMetrics', true],
    ['without: the worker tells its job set', false],
  ])('%s, a declared job dead-lettered before it ever ran keeps its name', async (_what, given) => {
    const prefix = testPrefix('metrics-declared');
    const metrics = given ? createMetrics({ jobs }) : createMetrics();
    const raw = rawRedis();
    defer(async () => {
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    let dead = 0;
    const worker = createWorker(jobs, { ok: () => {}, flaky: () => {} }, { redis: redisUrl(), prefix, logger: false, metrics, queues: ['default'] });
    defer(() => worker.close());
    worker.on('dead', () => dead++);
    await writeRaw(prefix, 'bad', JSON.stringify({ n: 'ok', t: 1, p: { n: 'not a number' } }));
    await writeRaw(prefix, 'ghost', JSON.stringify({ n: 'ghost', t: 1, p: {} }));
    await waitFor(() => dead === 2, 'both dead-lettered');
    const samples = parseExposition((await metrics.scrape()).body);
    expect(valueOf(samples, 'jobcraft_jobs_processed_total', { queue: 'default', job: 'ok', status: 'dead' })).toBe(1);
    expect(valueOf(samples, 'jobcraft_jobs_processed_total', { queue: 'default', job: '(unknown)', status: 'dead' })).toBe(1);
  });
});
