/**
 * Prometheus metrics for workers, clients and queues, on prom-client (an optional peer dependency, loaded when
 * {@link createMetrics} is called). The per-job metrics are kept in plain numbers by small collectors of this file
 * that a prom-client `Registry` exposes like its own metrics: a job costs a counter increment and a histogram
 * observation on children bound once per queue and job name, with no label object built and no hashing per job.
 * Every metric is described in docs/operations.md ("Metrics").
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as PromClient from 'prom-client';
import type { DeadReason } from './dead-letters.js';
import type { JobSet } from './define.js';
import type { WorkerEvents } from './events.js';
import type { EnqueueHooks, InstrumentedRun, RunHooks } from './instrument.js';
import { InvalidArgumentError, JobValidationError } from './errors.js';
import { requirePeer } from './optional-peer.js';

/** Buckets of `jobcraft_job_duration_seconds` (seconds): 5 ms to 5 min. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Buckets of `jobcraft_job_wait_seconds` (seconds): 5 ms to 1 h. */
export const WAIT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * The part of a prom-client `Registry` jobcraft relies on (declared here so jobcraft's types do not need prom-client
 * installed). A `Registry` of prom-client 15 satisfies it; {@link createMetrics} creates one when none is given.
 */
export interface MetricsRegistry {
  /** The exposition text of every metric in the registry. */
  metrics(): Promise<string>;
  /** The exposition format's content type. */
  readonly contentType: string;
}

/**
 * One queue's state as the queue gauges need it: the fields of the Inspector's `QueueStats` they read (an
 * Inspector's `stats` answer satisfies it as it is).
 */
export interface QueueGaugeStats {
  /** Jobs ready to run. */
  readonly waiting: number;
  /** Jobs waiting for a time (delayed, snoozed, retrying after a backoff). */
  readonly delayed: number;
  /** Jobs leased by a worker now. */
  readonly active: number;
  /** Live jobs that failed at least once and will run again. */
  readonly retrying: number;
  /** Dead letters kept. */
  readonly dead: number;
  /** Completed records kept, when the source reports them. */
  readonly completed?: number;
  /** Age of the oldest waiting job, in ms (0 when none waits). */
  readonly latencyMs: number;
  readonly paused: boolean;
}

/** The states `jobcraft_queue_jobs` reports, as its `state` label. */
export const QUEUE_GAUGE_STATES = ['waiting', 'delayed', 'active', 'retrying', 'dead', 'completed'] as const;

/**
 * Where the queue gauges read queue state from: an Inspector (`createInspector`) satisfies it as it is, and so does
 * anything with the same `stats` (and, to find the queues itself, `queues`).
 */
export interface QueueStatsSource {
  stats(queue: string): Promise<QueueGaugeStats>;
  /** Every known queue (the Inspector's queue registry); read at each refresh when no `queues` are given. */
  queues?(): Promise<readonly { readonly queue: string }[]>;
}

/** Options of {@link Metrics.collectQueueGauges}. */
export interface QueueGaugeOptions {
  /** The source of each queue's state. */
  readonly source: QueueStatsSource;
  /** The queues to report. Default: every queue `source.queues()` lists, read again at each refresh. */
  readonly queues?: readonly string[];
  /**
   * Reads Redis at most this often, in ms: scrapes in between get the cached values, so any number of scrapers
   * cost Redis one `stats` call per queue per interval. Default 5,000.
   */
  readonly refreshMs?: number;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions<R extends MetricsRegistry = MetricsRegistry> {
  /** A prom-client `Registry` to register jobcraft's metrics in (yours, to expose them with your own). Default: a new one. */
  readonly registry?: R;
  /** Prefix of every metric name. Default `"jobcraft_"`. */
  readonly namePrefix?: string;
  /** Buckets of the run-time histogram, in seconds. Default {@link DURATION_BUCKETS}. */
  readonly durationBuckets?: readonly number[];
  /** Buckets of the wait-time histogram, in seconds. Default {@link WAIT_BUCKETS}. */
  readonly waitBuckets?: readonly number[];
  /**
   * The job set your workers declare. A job dead-lettered at dequeue (`invalid_payload`) is labelled with its name
   * only when that name is declared — here, in a client's job set attached to these metrics, or by a job this process
   * has run — and with `job="(unknown)"` otherwise, since the name was read from a stored job anyone with access to
   * Redis may have written. Give it so that a declared job dead-lettered before any of its kind ran here keeps its name.
   */
  readonly jobs?: JobSet;
}

/** What a `/metrics` handler answers. */
export interface MetricsResponse {
  readonly contentType: string;
  readonly body: string;
}

/**
 * jobcraft's Prometheus metrics: pass it as `metrics` to `createWorker` and `createClient`, expose {@link registry}
 * (or use {@link scrape} / {@link httpHandler}). Binds nothing by itself.
 */
export interface Metrics<R extends MetricsRegistry = MetricsRegistry> {
  /** The registry holding jobcraft's metrics (a prom-client `Registry`): merge it with yours, or expose it. */
  readonly registry: R;
  /** The exposition text of {@link registry} and its content type, for any web framework's `/metrics` route. */
  scrape(): Promise<MetricsResponse>;
  /** A `node:http` request listener answering every request with {@link scrape} (mount it on your `/metrics`). */
  httpHandler(): (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Adds the queue gauges (`jobcraft_queue_jobs`, `jobcraft_queue_latency_seconds`, `jobcraft_queue_paused`), read
   * from `source` when scraped, at most every `refreshMs`. Call once per registry.
   */
  collectQueueGauges(options: QueueGaugeOptions): void;
}

/** What a worker's metrics need (the internal side of {@link Metrics}; the worker calls it once, at creation). */
export interface WorkerMetricsSource {
  on<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): unknown;
}

/** The internal side of a {@link Metrics}: how a worker and a client attach to it. */
export interface MetricsAttachments {
  /** Subscribes to a worker's events (`jobs`: the job set it declares, when known); returns the hooks its runner calls. */
  attachWorker(worker: WorkerMetricsSource, jobs?: JobSet): RunHooks;
  /** The hooks a client calls around its enqueues. */
  attachClient(jobs: JobSet): EnqueueHooks;
}

const ATTACH = Symbol.for('jobcraft.metrics.attach');

/** The attachments of a `metrics` option (for the worker and client wiring); undefined when the option is unset. */
export function metricsAttachments(metrics: Metrics | undefined, where: string): MetricsAttachments | undefined {
  if (metrics === undefined) return undefined;
  const a = typeof metrics === 'object' && metrics !== null ? (metrics as unknown as Record<symbol, MetricsAttachments | undefined>)[ATTACH] : undefined;
  if (a === undefined) throw new InvalidArgumentError(where, 'metrics', 'metrics must be what createMetrics() returned');
  return a;
}

// ---- collectors ------------------------------------------------------------------------------------------------

type Labels = Readonly<Record<string, string>>;
type MetricType = 'counter' | 'gauge' | 'histogram';
interface ExportedValue {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}
interface ExportedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly values: ExportedValue[];
  readonly aggregator: 'sum';
}

/**
 * A metric a prom-client Registry exposes (it reads `name`, `help`, `type` and `get()`), whose children are bound
 * once per label set and then updated as plain numbers.
 */
abstract class Collector<C> {
  private readonly children = new Map<string, C>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
  ) {}

  /** The child of `values` (in the order of `labelNames`), created the first time. */
  child(...values: string[]): C {
    const key = values.join('\u0000');
    let c = this.children.get(key);
    if (c === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      c = this.create(labels);
      this.children.set(key, c);
    }
    return c;
  }

  protected abstract create(labels: Labels): C;
  protected abstract export(child: C, out: ExportedValue[]): void;

  get(): Promise<ExportedMetric> {
    const values: ExportedValue[] = [];
    for (const c of this.children.values()) this.export(c, values);
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' });
  }

  /** Zeroes every child (prom-client's `registry.resetMetrics()`); the children stay bound where they are cached. */
  reset(): void {
    for (const c of this.children.values()) this.zero(c);
  }

  protected abstract zero(child: C): void;
}

/** A counter or gauge child. */
export class ValueChild {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

class ValueCollector extends Collector<ValueChild> {
  protected create(labels: Labels): ValueChild {
    return new ValueChild(labels);
  }
  protected export(c: ValueChild, out: ExportedValue[]): void {
    out.push({ value: c.value, labels: c.labels });
  }
  protected zero(c: ValueChild): void {
    // A gauge of running handlers keeps its value: it counts what runs now, not what happened since a reset.
    if (this.type !== 'gauge') c.value = 0;
  }
}

/** A histogram child: counts per bucket (not cumulative until exported), sum and count. */
export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

class HistogramCollector extends Collector<HistogramChild> {
  constructor(name: string, help: string, labelNames: readonly string[], private readonly bounds: readonly number[]) {
    super(name, help, 'histogram', labelNames);
  }
  protected create(labels: Labels): HistogramChild {
    return new HistogramChild(labels, this.bounds);
  }
  protected export(c: HistogramChild, out: ExportedValue[]): void {
    let acc = 0;
    this.bounds.forEach((b, i) => {
      acc += c.counts[i] as number;
      out.push({ value: acc, labels: { ...c.labels, le: String(b) }, metricName: `${this.name}_bucket` });
    });
    out.push({ value: c.count, labels: { ...c.labels, le: '+Inf' }, metricName: `${this.name}_bucket` });
    out.push({ value: c.sum, labels: c.labels, metricName: `${this.name}_sum` });
    out.push({ value: c.count, labels: c.labels, metricName: `${this.name}_count` });
  }
  protected zero(c: HistogramChild): void {
    c.counts.fill(0);
    c.sum = 0;
    c.count = 0;
  }
}

function checkBuckets(buckets: readonly number[], what: string): readonly number[] {
  if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number)))) {
    throw new TypeError(`createMetrics: ${what} must be finite numbers in increasing order`);
  }
  return [...buckets];
}

/**
 * The job label of a dead letter whose name is unreadable or not declared (`unknown_job`, `malformed_job`, or an
 * `invalid_payload` of an undeclared name): one value, so names written into Redis by others never become series.
 */
const UNKNOWN_JOB = '(unknown)';

/** Why an enqueue was refused, from its validation issues: a bounded set of label values. */
function refusalReason(err: JobValidationError): 'too_big' | 'not_json' | 'invalid' {
  const code = err.issues[0]?.code;
  return code === 'too_big' ? 'too_big' : code === 'not_json' ? 'not_json' : 'invalid';
}

// ---- createMetrics ---------------------------------------------------------------------------------------------

/**
 * Creates jobcraft's Prometheus metrics (needs the optional package `prom-client`; throws
 * `MissingPeerDependencyError` without it). Pass the result as `metrics` to `createWorker` / `createClient`.
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * const worker = createWorker(jobs, handlers, { metrics });
 * http.createServer((req, res) => (req.url === '/metrics' ? metrics.httpHandler()(req, res) : res.end())).listen(9464);
 * ```
 */
export function createMetrics<R extends MetricsRegistry = MetricsRegistry>(options: MetricsOptions<R> = {}): Metrics<R> {
  const prom = requirePeer<typeof PromClient>('prom-client', 'createMetrics');
  const registry = (options.registry ?? new prom.Registry()) as R;
  const reg = registry as unknown as PromClient.Registry;
  const p = options.namePrefix ?? 'jobcraft_';
  // jobcraft's own collectors are not checked by prom-client: a name outside the exposition format would be written
  // as it is, and Prometheus rejects a whole scrape over one bad line.
  if (typeof p !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(p)) {
    throw new InvalidArgumentError('createMetrics', 'namePrefix', `namePrefix may hold only letters, digits, _ and : and may not start with a digit, got ${JSON.stringify(p)}`);
  }
  const durationBuckets = checkBuckets(options.durationBuckets ?? DURATION_BUCKETS, 'durationBuckets');
  const waitBuckets = checkBuckets(options.waitBuckets ?? WAIT_BUCKETS, 'waitBuckets');

  const processed = new ValueCollector(`${p}jobs_processed_total`, 'Job attempts by outcome: completed, failed (every failed attempt), retried (failed, to run again), dead (to the dead letters).', 'counter', ['queue', 'job', 'status']);
  const duration = new HistogramCollector(`${p}job_duration_seconds`, 'Run time of each attempt (handler and middleware), in seconds.', ['queue', 'job'], durationBuckets);
  const wait = new HistogramCollector(`${p}job_wait_seconds`, 'Time from enqueue (or the requested run time) to the start of a first attempt, in seconds.', ['queue', 'job'], waitBuckets);
  const active = new ValueCollector(`${p}worker_active_jobs`, 'Handlers running now in this process.', 'gauge', ['queue']);
  const enqueued = new ValueCollector(`${p}jobs_enqueued_total`, 'Jobs written by enqueue calls of this process (duplicates not counted).', 'counter', ['queue', 'job']);
  const refused = new ValueCollector(`${p}enqueue_refused_total`, 'Jobs refused by enqueue before anything was written (validation), by reason.', 'counter', ['queue', 'job', 'reason']);
  for (const c of [processed, duration, wait, active, enqueued, refused]) reg.registerMetric(c as unknown as PromClient.Metric);

  /**
   * Names known to be declared: the `jobs` option, the job sets of attached clients and workers, and every name a
   * run of this process reported (a run only exists for a declared job). Nothing else becomes a `job` label.
   */
  const declared = new Set<string>();
  const declare = (set: JobSet | undefined): void => {
    if (set !== undefined) for (const name of set.jobs.keys()) declared.add(name);
  };
  declare(options.jobs);
  /** Per queue and job name: the children a run touches, bound once. */
  interface RunChildren {
    readonly duration: HistogramChild;
    readonly wait: HistogramChild;
    readonly active: ValueChild;
  }
  const runChildren = new Map<string, Map<string, RunChildren>>();
  const childrenOf = (queue: string, job: string): RunChildren => {
    let byJob = runChildren.get(queue);
    if (byJob === undefined) runChildren.set(queue, (byJob = new Map()));
    let c = byJob.get(job);
    if (c === undefined) {
      c = { duration: duration.child(queue, job), wait: wait.child(queue, job), active: active.child(queue) };
      byJob.set(job, c);
      declared.add(job); // a run exists only for a declared job (once per queue and name, not per run)
    }
    return c;
  };
  /** Per queue and job name: the processed counters by status, bound once (no key built per job). */
  interface StatusChildren {
    completed?: ValueChild;
    failed?: ValueChild;
    retried?: ValueChild;
    dead?: ValueChild;
  }
  const statusChildren = new Map<string, Map<string, StatusChildren>>();
  /** The label of a dead letter's name: the name when it came from a run or is declared, else (unknown). */
  const deadLabel = (job: string | undefined, reason: DeadReason): string | undefined => {
    if (job === undefined || reason === 'unknown_job' || reason === 'malformed_job') return UNKNOWN_JOB;
    if (reason === 'invalid_payload') return declared.has(job) ? job : UNKNOWN_JOB;
    return job; // attempts_exhausted, permanent_error, invalid_result: the end of a run, so a declared job
  };
  const statusOf = (queue: string, job: string | undefined, status: keyof StatusChildren): ValueChild => {
    const j = job ?? UNKNOWN_JOB;
    let byJob = statusChildren.get(queue);
    if (byJob === undefined) statusChildren.set(queue, (byJob = new Map()));
    let c = byJob.get(j);
    if (c === undefined) byJob.set(j, (c = {}));
    return (c[status] ??= processed.child(queue, j, status));
  };

  const attachments: MetricsAttachments = {
    attachWorker(worker, jobs) {
      declare(jobs);
      // completed, failed, retrying: events of runs, whose job is declared by the worker's job set.
      worker.on('completed', ({ job }) => statusOf(job.queue, job.name, 'completed').inc());
      worker.on('failed', ({ job }) => statusOf(job.queue, job.name, 'failed').inc());
      worker.on('retrying', ({ job }) => statusOf(job.queue, job.name, 'retried').inc());
      worker.on('dead', ({ job, reason }) => statusOf(job.queue, deadLabel(job.name, reason), 'dead').inc());
      return {
        started: (run: InstrumentedRun) => {
          const c = childrenOf(run.queue, run.job.name);
          c.active.value++;
          if (run.attempt === 1) {
            const env = run.envelope;
            const waited = (Date.now() - (env.d ?? env.t)) / 1000;
            c.wait.observe(waited > 0 ? waited : 0);
          }
        },
        ended: (run: InstrumentedRun, now: number) => {
          const c = childrenOf(run.queue, run.job.name);
          c.active.value--;
          c.duration.observe((now - run.startedAt) / 1000);
        },
      };
    },
    attachClient(jobs) {
      declare(jobs);
      return {
        around: (name, count, call) => {
          const queue = jobs.jobs.get(name)?.queue;
          if (queue === undefined) return call(undefined);
          return call(undefined).then(
            (results) => {
              let written = 0;
              for (const r of results) if (!r.duplicate) written++;
              if (written > 0) enqueued.child(queue, name).inc(written);
              return results;
            },
            (err: unknown) => {
              if (err instanceof JobValidationError && err.stage === 'enqueue') refused.child(queue, name, refusalReason(err)).inc(count);
              throw err;
            },
          );
        },
      };
    },
  };

  let gaugesAdded = false;
  const metrics: Metrics<R> = {
    registry,
    scrape: async () => ({ contentType: reg.contentType, body: await reg.metrics() }),
    httpHandler: () => (_req, res) => {
      metrics.scrape().then(
        ({ contentType, body }) => {
          res.statusCode = 200;
          res.setHeader('Content-Type', contentType);
          res.end(body);
        },
        (err: unknown) => {
          res.statusCode = 500;
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
          res.end(`collecting the metrics failed: ${(err as Error)?.message ?? String(err)}\n`);
        },
      );
    },
    collectQueueGauges: (o) => {
      if (gaugesAdded) throw new TypeError('collectQueueGauges: the queue gauges are already added to this registry');
      gaugesAdded = true;
      addQueueGauges(prom, reg, p, o);
    },
  };
  Object.defineProperty(metrics, ATTACH, { value: attachments, enumerable: false });
  return metrics;
}

/** A cache of every queue's state, refreshed at most every `refreshMs` (concurrent scrapes share one refresh). */
export class QueueStatsCache {
  private values = new Map<string, QueueGaugeStats>();
  private readAt = -Infinity;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly source: QueueStatsSource,
    private readonly queues: readonly string[] | undefined,
    private readonly refreshMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Every queue's state, read from the source only when the cached one is older than `refreshMs`. */
  async get(): Promise<ReadonlyMap<string, QueueGaugeStats>> {
    if (this.now() - this.readAt >= this.refreshMs) {
      this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
      await this.refreshing;
    }
    return this.values;
  }

  private async refresh(): Promise<void> {
    const queues = this.queues ?? (await (this.source.queues?.() ?? Promise.resolve([]))).map((e) => e.queue);
    const got = await Promise.all(queues.map((q) => this.source.stats(q)));
    this.values = new Map(queues.map((q, i) => [q, got[i] as QueueGaugeStats]));
    this.readAt = this.now();
  }
}

function addQueueGauges(prom: typeof PromClient, reg: PromClient.Registry, p: string, o: QueueGaugeOptions): void {
  const refreshMs = o.refreshMs ?? 5_000;
  if (!Number.isFinite(refreshMs) || refreshMs < 0) throw new TypeError('collectQueueGauges: refreshMs must be a number ≥ 0');
  if (o.queues === undefined && typeof o.source.queues !== 'function') {
    throw new TypeError('collectQueueGauges: give the queues, or a source that lists them (queues())');
  }
  const cache = new QueueStatsCache(o.source, o.queues === undefined ? undefined : [...o.queues], refreshMs);
  // One collect reads the cache; the three gauges share it (the first of a scrape refreshes it when stale). When
  // Redis cannot be read the gauges report nothing for that scrape: a rejected collect would fail the whole
  // registry's exposition — the worker metrics and the user's own included — just when an outage needs them.
  let latest: Promise<ReadonlyMap<string, QueueGaugeStats>> | undefined;
  const none: ReadonlyMap<string, QueueGaugeStats> = new Map();
  const read = (): Promise<ReadonlyMap<string, QueueGaugeStats>> => {
    latest ??= cache
      .get()
      .catch(() => none)
      .finally(() => queueMicrotask(() => (latest = undefined)));
    return latest;
  };
  new prom.Gauge({
    name: `${p}queue_jobs`,
    help: 'Jobs in each queue by state, read from Redis (cached, refreshed at most every few seconds).',
    labelNames: ['queue', 'state'],
    registers: [reg],
    async collect() {
      const stats = await read();
      this.reset();
      for (const [queue, s] of stats) {
        for (const state of QUEUE_GAUGE_STATES) {
          const n = s[state];
          if (typeof n === 'number') this.set({ queue, state }, n);
        }
      }
    },
  });
  new prom.Gauge({
    name: `${p}queue_latency_seconds`,
    help: 'Age of the oldest waiting job of each queue, in seconds (0 when none waits).',
    labelNames: ['queue'],
    registers: [reg],
    async collect() {
      const stats = await read();
      this.reset();
      for (const [queue, s] of stats) this.set({ queue }, s.latencyMs / 1000);
    },
  });
  new prom.Gauge({
    name: `${p}queue_paused`,
    help: '1 when the queue is paused, else 0.',
    labelNames: ['queue'],
    registers: [reg],
    async collect() {
      const stats = await read();
      this.reset();
      for (const [queue, s] of stats) this.set({ queue }, s.paused ? 1 : 0);
    },
  });
}
