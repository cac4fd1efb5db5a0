/**
 * The metrics and tracing parts that need no Redis: the queue gauges' cache (Redis read at most once per interval
 * however many scrape), the gauges read through the stats interface (a fake Inspector), the stored trace context
 * checks, and that the runtime never imports the optional packages up front.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics, type QueueGaugeStats, type QueueStatsSource } from '../../src/index.js';
import { QueueStatsCache } from '../../src/metrics.js';
import { MissingPeerDependencyError } from '../../src/errors.js';
import { requirePeer } from '../../src/optional-peer.js';
import { TRACE_CONTEXT_MAX, decodeEnvelope, encodeEnvelope, parseTraceContext } from '../../src/payload.js';
import { formatTraceContext } from '../../src/tracing.js';

const idle: QueueGaugeStats = { waiting: 0, delayed: 0, active: 0, retrying: 0, dead: 0, latencyMs: 0, paused: false };

/** The Inspector's `stats` / `queues` shape (src/inspect-types.ts on branch ops-data), with more fields than read. */
class FakeInspector implements QueueStatsSource {
  calls: string[] = [];
  listed = 0;
  state = new Map<string, QueueGaugeStats & { readonly queue: string; readonly waitingPlain: number }>();
  stats(queue: string) {
    this.calls.push(queue);
    return Promise.resolve(this.state.get(queue) ?? { ...idle, queue, waitingPlain: 0 });
  }
  queues() {
    this.listed++;
    return Promise.resolve([...this.state.keys()].map((queue) => ({ queue, throttled: [] })));
  }
}

describe('QueueStatsCache', () => {
  it('reads each queue once per interval, however many scrapes, and shares a refresh in flight', async () => {
    const source = new FakeInspector();
    let now = 0;
    const cache = new QueueStatsCache(source, ['a', 'b'], 5_000, () => now);
    source.state.set('a', { ...idle, queue: 'a', waitingPlain: 0 });
    await Promise.all([cache.get(), cache.get(), cache.get()]);
    expect(source.calls).toEqual(['a', 'b']);
    now = 4_999;
    await cache.get();
    expect(source.calls).toHaveLength(2);
    now = 5_000;
    await Promise.all([cache.get(), cache.get()]);
    expect(source.calls).toEqual(['a', 'b', 'a', 'b']);
  });
});

describe('queue gauges', () => {
  it('expose the stats of each queue, cached between scrapes', async () => {
    const source = new FakeInspector();
    source.state.set('emails', { ...idle, queue: 'emails', waitingPlain: 7, waiting: 7, delayed: 2, dead: 1, completed: 40, latencyMs: 1500, paused: true });
    source.state.set('reports', { ...idle, queue: 'reports', waitingPlain: 0 });
    const metrics = createMetrics();
    metrics.collectQueueGauges({ source, queues: ['emails', 'reports'], refreshMs: 60_000 });
    const { body } = await metrics.scrape();
    expect(body).toContain('jobcraft_queue_jobs{queue="emails",state="waiting"} 7');
    expect(body).toContain('jobcraft_queue_jobs{queue="emails",state="delayed"} 2');
    expect(body).toContain('jobcraft_queue_jobs{queue="emails",state="dead"} 1');
    expect(body).toContain('jobcraft_queue_jobs{queue="emails",state="completed"} 40');
    expect(body).toContain('jobcraft_queue_jobs{queue="reports",state="active"} 0');
    expect(body).not.toContain('state="waitingPlain"');
    expect(body).toContain('jobcraft_queue_latency_seconds{queue="emails"} 1.5');
    expect(body).toContain('jobcraft_queue_paused{queue="emails"} 1');
    expect(body).toContain('jobcraft_queue_paused{queue="reports"} 0');
    expect(body).toContain('jobcraft_queue_latency_seconds{queue="reports"} 0');
    // Three gauges, two queues, two scrapes: still one read per queue within the interval.
    await metrics.scrape();
    expect(source.calls).toEqual(['emails', 'reports']);
    expect(() => metrics.collectQueueGauges({ source, queues: ['emails'] })).toThrow(/already/);
  });

  it('find the queues through the source when none are given, and drop a queue that is gone', async () => {
    const source = new FakeInspector();
    source.state.set('a', { ...idle, queue: 'a', waitingPlain: 0, waiting: 3 });
    source.state.set('b', { ...idle, queue: 'b', waitingPlain: 0, paused: true });
    const metrics = createMetrics();
    metrics.collectQueueGauges({ source, refreshMs: 0 });
    let body = (await metrics.scrape()).body;
    expect(body).toContain('jobcraft_queue_jobs{queue="a",state="waiting"} 3');
    expect(body).toContain('jobcraft_queue_paused{queue="b"} 1');
    expect(source.listed).toBe(1);
    source.state.delete('b');
    body = (await metrics.scrape()).body;
    expect(body).not.toContain('queue="b"');
    expect(() => createMetrics().collectQueueGauges({ source: { stats: source.stats.bind(source) } })).toThrow(/queues/);
  });

  it('leave the rest of the scrape intact when Redis cannot be read (the queue gauges are absent then)', async () => {
    const source = new FakeInspector();
    source.state.set('a', { ...idle, queue: 'a', waitingPlain: 0, waiting: 3 });
    const down = { stats: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')), queues: () => source.queues() };
    const prom = await import('prom-client');
    const registry = new prom.Registry();
    new prom.Counter({ name: 'app_requests_total', help: 'the app', registers: [registry] }).inc();
    const metrics = createMetrics({ registry });
    metrics.collectQueueGauges({ source: down, refreshMs: 0 });
    const { body } = await metrics.scrape();
    expect(body).toContain('app_requests_total 1');
    expect(body).not.toMatch(/^jobcraft_queue_jobs\{/m);
  });

  it('keep counting after a registry reset (children stay bound)', async () => {
    const prom = await import('prom-client');
    const registry = new prom.Registry();
    const metrics = createMetrics({ registry });
    const { metricsAttachments } = await import('../../src/metrics.js');
    const { TypedEmitter } = await import('../../src/events.js');
    const { silentLogger } = await import('../../src/logger.js');
    const events = new TypedEmitter<import('../../src/events.js').WorkerEvents>(silentLogger);
    metricsAttachments(metrics, 'test')?.attachWorker(events);
    const job = { id: 'q#1', name: 'j', queue: 'q', attempt: 1, maxAttempts: 1 };
    events.emit('completed', { job, durationMs: 1 });
    expect((await metrics.scrape()).body).toContain('jobcraft_jobs_processed_total{queue="q",job="j",status="completed"} 1');
    registry.resetMetrics();
    events.emit('completed', { job, durationMs: 1 });
    events.emit('completed', { job, durationMs: 1 });
    expect((await metrics.scrape()).body).toContain('jobcraft_jobs_processed_total{queue="q",job="j",status="completed"} 2');
    expect(() => metricsAttachments({} as never, 'createWorker')).toThrow(/createMetrics/);
  });

  it('refuse a name prefix that would make metric names Prometheus rejects (one bad name fails the whole scrape)', async () => {
    expect(() => createMetrics({ namePrefix: 'my-app_' })).toThrow(/namePrefix/);
    expect(() => createMetrics({ namePrefix: '1x_' })).toThrow(/namePrefix/);
    expect((await createMetrics({ namePrefix: 'shop:jobs_' }).scrape()).body).toContain('shop:jobs_jobs_processed_total');
  });

  it('refuse bad buckets', () => {
    expect(() => createMetrics({ durationBuckets: [1, 0.5] })).toThrow(/increasing/);
  });
});

describe('stored trace context', () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('accepts a W3C traceparent, with or without a tracestate', () => {
    expect(parseTraceContext(parent)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, traceState: undefined });
    expect(parseTraceContext(`${parent}|vendor=abc,other=1`)?.traceState).toBe('vendor=abc,other=1');
  });

  it('ignores anything else (attacker-controlled text)', () => {
    for (const bad of [
      undefined,
      42,
      { p: parent },
      '',
      parent.toUpperCase(),
      `01${parent.slice(2)}`,
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      `${parent}x`,
      `${parent}|bad\nstate`,
      `${parent}|${'a'.repeat(TRACE_CONTEXT_MAX)}`,
    ]) {
      expect(parseTraceContext(bad)).toBeUndefined();
    }
  });

  it('round-trips through the envelope, which keeps d and tc after the fields the head pattern reads', () => {
    const tc = formatTraceContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 });
    expect(tc).toBe(parent);
    const text = encodeEnvelope('job', 1000, '{}', undefined, undefined, 'job:' + 'a'.repeat(40), 5000, tc);
    expect(text).toBe(`{"n":"job","t":1000,"u":"job:${'a'.repeat(40)}","d":5000,"tc":"${parent}","p":{}}`);
    const decoded = decodeEnvelope(text);
    expect(decoded.ok && decoded.envelope.tc).toBe(parent);
    expect(decoded.ok && decoded.envelope.d).toBe(5000);
    const tooLong = decodeEnvelope(`{"n":"job","t":1,"tc":"${'x'.repeat(TRACE_CONTEXT_MAX + 1)}","p":{}}`);
    expect(tooLong.ok && tooLong.envelope.tc).toBeUndefined();
    // Without them the envelope is as before.
    expect(encodeEnvelope('job', 1000, '{}')).toBe('{"n":"job","t":1000,"p":{}}');
  });
});

describe('optional peer dependencies', () => {
  it('name the missing package', () => {
    expect(() => requirePeer('jobcraft-no-such-package', 'createMetrics')).toThrow(MissingPeerDependencyError);
    expect(() => requirePeer('jobcraft-no-such-package', 'createMetrics')).toThrow(/npm install jobcraft-no-such-package/);
  });

  it('are never imported up front by the runtime (type imports only)', () => {
    const dir = new URL('../../src/', import.meta.url);
    const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      const valueImport = /^import\s+(?!type\b)[^;]*from\s+'(prom-client|@opentelemetry\/[^']+)'/m.exec(text);
      expect(valueImport?.[0], f).toBeUndefined();
    }
  });
});

describe('the Grafana dashboard', () => {
  it('queries only metrics jobcraft exposes', async () => {
    const metrics = createMetrics();
    metrics.collectQueueGauges({ source: new FakeInspector(), queues: ['q'] });
    const exposed = new Set([...(await metrics.scrape()).body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    const dashboard = readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8');
    const used = new Set([...dashboard.matchAll(/\b(jobcraft_[a-z_]+)/g)].map((m) => (m[1] as string).replace(/_(bucket|sum|count)$/, '')));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(exposed.has(name), name).toBe(true);
  });
});
