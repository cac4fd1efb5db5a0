import type { JobName, JobSet, JobsInQueue, PayloadOutput, QueueName, ResolvedJob } from './define.js';
import { retryDelay } from './backoff.js';
import { toMs, type Duration } from './durations.js';
import {
  JobValidationError,
  LeaseExpiredError,
  PermanentError,
  ShutdownError,
  SnoozeSignal,
  TimeoutError,
  toStoredError,
  type PayloadIssue,
  type StoredError,
} from './errors.js';
import type { DeadInfo, DeadReason } from './dead-letters.js';
import { TypedEmitter, type JobRef, type WorkerEvents } from './events.js';
import { DEFAULT_PREFIX, PREFIX_PATTERN, queueKeys, type QueueKeys } from './keys.js';
import { resolveLogger, type Logger } from './logger.js';
import { decodeEnvelope, parsePayload, toIssues, type Envelope } from './payload.js';
import { connect, release, type OwnedConnection, type RedisConfig } from './redis.js';
import { Scripts, toLibraryError, type Ack, type Held, type LeasedJob, type Slot } from './scripts.js';
import { throttledTypes, type ThrottledType } from './throttle.js';
import { QueueFetcher } from './queue-fetcher.js';
import { LeaseRenewal } from './lease-renewal.js';
import { LeaseRecovery } from './lease-recovery.js';
import { CronScheduler } from './cron-scheduler.js';

/** What a handler gets besides its payload. */
export interface JobContext<N extends string = string> {
  /** The job's id. */
  readonly id: string;
  /** The job's name. */
  readonly name: N;
  /** The queue it came from. */
  readonly queue: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  /** Total attempts allowed. */
  readonly maxAttempts: number;
  /** When the job was enqueued. */
  readonly enqueuedAt: Date;
  /** Aborts on timeout, on forced shutdown, and when the worker lost the job's lease. `signal.reason` says which. */
  readonly signal: AbortSignal;
  /** The worker's logger. */
  readonly logger: Logger;
  /** Ends this attempt and runs the job again after `delay`, without spending an attempt. */
  snooze(delay: Duration): never;
}

/** A job handler: receives the payload in its schema's output form. */
export type Handler<P, N extends string = string> = (payload: P, ctx: JobContext<N>) => Promise<void> | void;

/** One handler per job in `N` (by default every job of the set). */
export type HandlersFor<J extends JobSet, N extends JobName<J> = JobName<J>> = {
  [K in N]: Handler<PayloadOutput<J, K>, K>;
};

/** What middleware sees: the handler's context plus the payload. */
export interface MiddlewareContext extends JobContext {
  readonly payload: unknown;
}

/**
 * Runs around every handler call (logging, tracing, metrics). Call `next()` exactly once to run the rest of the
 * chain and the handler; what it throws is the attempt's error.
 */
export type Middleware = (ctx: MiddlewareContext, next: () => Promise<void>) => Promise<void>;

/** Options of {@link createWorker}. Every default is listed in docs/configuration.md. */
export interface WorkerOptions<Q extends string = string> {
  /** Where Redis is. Default `REDIS_URL`, else `redis://127.0.0.1:6379`. */
  readonly redis?: RedisConfig;
  /** Prefix of every key. Default `"jobcraft"`. */
  readonly prefix?: string;
  /** Queues to serve. Default: every queue of the job set. Only their jobs need handlers. */
  readonly queues?: readonly Q[];
  /** Handlers running at once in this process, across its queues. Default 10. */
  readonly concurrency?: number;
  /**
   * How a worker serving several queues shares its slots while more than one has jobs: `weighted` (default) gives
   * each busy queue a share in proportion to its weight; `strict` serves queues in the order of `queues`, taking
   * from a queue only while every queue before it is empty.
   */
  readonly queueOrder?: 'weighted' | 'strict';
  /** Weights for `queueOrder: 'weighted'`, by queue name. Default 1 each. */
  readonly queueWeights?: Readonly<Partial<Record<Q, number>>>;
  /**
   * Jobs leased ahead of free slots so a slot never waits for Redis. Default: automatic — `concurrency`, raised (up
   * to 4 × `concurrency`) while jobs start fast enough to use the extra ones within about 5 ms. A number fixes it.
   */
  readonly prefetch?: number;
  /** Lease length. A job whose worker stops renewing is recovered this long after the last renewal. Default 30 000. */
  readonly leaseMs?: number;
  /** How long `close()` waits for running handlers before aborting them and handing their jobs back. Default 10 000. */
  readonly shutdownTimeoutMs?: number;
  /** How many completed jobs to remember for `getJob`, and for how long. Default 1,000 and `"1h"`; count 0 keeps none. */
  readonly keepCompleted?: { readonly count?: number; readonly age?: Duration };
  /** Dead letters kept per queue (oldest dropped first). Default 10,000. */
  readonly deadLetters?: { readonly max?: number };
  /** Runs around every handler, first element outermost. */
  readonly middleware?: readonly Middleware[];
  /** Where the worker logs. Default: warnings and errors to the console. `false` logs nothing. */
  readonly logger?: Logger | false;
  /** Close gracefully on SIGTERM and SIGINT, then exit the process (a second signal exits at once). Default false. */
  readonly handleSignals?: boolean;
  /**
   * Enqueue the firings of the cron jobs in the served queues. Default true. Any number of workers may do this at
   * once: each firing is enqueued exactly once.
   */
  readonly cron?: boolean;
}

/** A running worker. */
export interface Worker {
  /** Adds an event listener (see {@link WorkerEvents}). */
  on<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  /** Removes an event listener. */
  off<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  /** Adds an event listener that runs once. */
  once<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  /** Queues this worker serves. */
  readonly queues: readonly string[];
  /** Handlers running right now. */
  readonly running: number;
  /**
   * Stops fetching, waits up to `shutdownTimeoutMs` for running handlers, then aborts the rest and hands every
   * unfinished job back to its queue at once. Resolves when all is recorded in Redis and connections are closed.
   */
  close(): Promise<void>;
}

const IDLE_BLOCK_MS = 5_000;
/** Upper bound of `concurrency` + `prefetch` (one fetch call's reply stays a few hundred KiB at most). */
const MAX_SLOTS = 5_000;
/** Automatic prefetch: the jobs this worker starts in this many ms… */
const AUTO_PREFETCH_AHEAD_MS = 5;
/** …at most this many times `concurrency`… */
const AUTO_PREFETCH_MAX_FACTOR = 4;
/** …measured over windows of this length. */
const RATE_WINDOW_MS = 25;
/** The buffer is refilled when it falls below this share of the prefetch. */
const LOW_WATER = 0.5;

/** A job this worker leased: buffered, running, or on its way to being acknowledged. */
export interface JobRun {
  readonly id: string;
  readonly queue: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly job: ResolvedJob;
  readonly envelope: Envelope;
  readonly payload: unknown;
  /** Created when the handler first reads `ctx.signal` (or on abort), since most handlers never do. */
  controller: AbortController | undefined;
  /** The unique lock to release when the job ends (undefined when none, or released at start). */
  lock: string | undefined;
  /** 1-based index of the job's type among its queue's throttled types; 0 when not throttled. */
  readonly typeIndex: number;
  /** The concurrency slot the job holds, for a type with a cap. */
  readonly slot: Slot | undefined;
  state: 'buffered' | 'running' | 'acking' | 'failing' | 'done' | 'released' | 'lost';
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The context a handler (and middleware) gets. Fields are read from the run on demand: most handlers never touch
 * `signal`, and creating an AbortSignal is one of the costliest things a worker does per job in Node 20.
 */
class RunContext implements MiddlewareContext {
  constructor(
    private readonly run: JobRun,
    readonly logger: Logger,
  ) {}

  get id(): string {
    return this.run.id;
  }
  get name(): string {
    return this.run.job.name;
  }
  get queue(): string {
    return this.run.queue;
  }
  get attempt(): number {
    return this.run.attempt;
  }
  get maxAttempts(): number {
    return this.run.maxAttempts;
  }
  get enqueuedAt(): Date {
    return new Date(this.run.envelope.t);
  }
  get signal(): AbortSignal {
    return controllerOf(this.run).signal;
  }
  get payload(): unknown {
    return this.run.payload;
  }
  // A getter returning a function, so `const { snooze } = ctx` works too (built only when read).
  get snooze(): (delay: Duration) => never {
    const id = this.run.id;
    return (delay: Duration): never => {
      throw new SnoozeSignal(toMs(delay, `snooze of job ${id}:`));
    };
  }
}

function controllerOf(run: JobRun): AbortController {
  run.controller ??= new AbortController();
  return run.controller;
}

/** Aborts a run's signal with `reason` (creating the controller, so a later read of `ctx.signal` sees it). */
function abortRun(run: JobRun, reason: Error): void {
  controllerOf(run).abort(reason);
}

/** The identity of a leased job for a dead letter, as far as it is known. */
function leasedRef(queue: string, l: LeasedJob, name?: string, maxAttempts?: number): JobRef {
  return { id: l.id, name, queue, attempt: l.attempt, maxAttempts };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function positiveInt(value: number | undefined, fallback: number, what: string, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new TypeError(`createWorker: ${what} must be an integer of at least ${min}, got ${String(v)}`);
  return v;
}

/** The worker's machinery, shared by its fetchers and its lease loops. Use {@link createWorker}. */
export class WorkerCore extends TypedEmitter<WorkerEvents> implements Worker {
  readonly queues: readonly string[];
  readonly logger: Logger;
  readonly scripts: Scripts;
  readonly leaseMs: number;
  readonly keepCount: number;
  readonly keepAgeMs: number;
  readonly maxDead: number;
  stopping = false;

  private readonly conn: OwnedConnection;
  private readonly jobs: JobSet;
  private readonly handlers: Readonly<Record<string, Handler<unknown>>>;
  private readonly middleware: readonly Middleware[];
  private readonly concurrency: number;
  /** Slots: `concurrency` + the current prefetch. */
  private capacity = 0;
  /** Fetch when the buffer of leased-ahead jobs falls below this. */
  private lowWater = 1;
  /** Fixed prefetch, or undefined for automatic. */
  private readonly fixedPrefetch: number | undefined;
  private readonly maxPrefetch: number;
  /** Job starts counted since `rateSince`, to size the automatic prefetch. */
  private rateStarts = 0;
  private rateSince = 0;
  private readonly shutdownTimeoutMs: number;
  private readonly keys = new Map<string, QueueKeys>();
  private readonly types = new Map<string, ThrottledType[]>();
  private readonly throttleInfo = new Map<string, Map<string, { readonly typeIndex: number; readonly slot: Slot | undefined }>>();
  private readonly fetchers = new Map<string, QueueFetcher>();
  private readonly held = new Map<string, Map<string, JobRun>>();
  private readonly buffer: JobRun[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly renewal: LeaseRenewal;
  private readonly recovery: LeaseRecovery;
  private readonly cron: CronScheduler | undefined;
  private readonly strictOrder: boolean;
  private readonly weights: ReadonlyMap<string, number>;
  private readonly reservedBy = new Map<string, number>();
  private runningCount = 0;
  private reserved = 0;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;
  private removeSignalHandlers: (() => void) | undefined;

  constructor(jobs: JobSet, handlers: Readonly<Record<string, Handler<unknown>>>, options: WorkerOptions) {
    const logger = resolveLogger(options.logger);
    super(logger);
    this.logger = logger;
    this.jobs = jobs;
    this.handlers = handlers;
    this.middleware = options.middleware ?? [];
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!PREFIX_PATTERN.test(prefix)) throw new TypeError(`createWorker: prefix ${JSON.stringify(prefix)} may only hold letters, digits and _ - . : (1 to 64 characters)`);
    this.concurrency = positiveInt(options.concurrency, 10, 'concurrency');
    this.fixedPrefetch = options.prefetch === undefined ? undefined : positiveInt(options.prefetch, 0, 'prefetch', 0);
    if (this.concurrency + (this.fixedPrefetch ?? this.concurrency) > MAX_SLOTS) {
      throw new TypeError(`createWorker: concurrency + prefetch must not exceed ${MAX_SLOTS.toLocaleString('en-US')}`);
    }
    this.maxPrefetch = this.fixedPrefetch ?? Math.min(AUTO_PREFETCH_MAX_FACTOR * this.concurrency, MAX_SLOTS - this.concurrency);
    this.setPrefetch(this.fixedPrefetch ?? this.concurrency);
    this.leaseMs = positiveInt(options.leaseMs, 30_000, 'leaseMs', 100);
    this.shutdownTimeoutMs = positiveInt(options.shutdownTimeoutMs, 10_000, 'shutdownTimeoutMs', 0);
    this.keepCount = positiveInt(options.keepCompleted?.count, 1_000, 'keepCompleted.count', 0);
    this.keepAgeMs = toMs(options.keepCompleted?.age ?? '1h', 'createWorker: keepCompleted.age');
    this.maxDead = positiveInt(options.deadLetters?.max, 10_000, 'deadLetters.max');

    const known: readonly string[] = jobs.queues;
    const queues: readonly string[] = options.queues ?? known;
    if (queues.length === 0) throw new TypeError('createWorker: queues is empty; name at least one queue to serve');
    for (const q of queues) {
      if (!known.includes(q)) throw new TypeError(`createWorker: queue ${JSON.stringify(q)} has no jobs (queues: ${known.join(', ')})`);
    }
    this.queues = [...new Set(queues)];
    this.strictOrder = options.queueOrder === 'strict';
    if (options.queueOrder !== undefined && options.queueOrder !== 'strict' && options.queueOrder !== 'weighted') {
      throw new TypeError(`createWorker: queueOrder must be "weighted" or "strict", got ${JSON.stringify(options.queueOrder)}`);
    }
    const weights = new Map<string, number>();
    for (const [q, w] of Object.entries(options.queueWeights ?? {})) {
      if (!this.queues.includes(q)) throw new TypeError(`createWorker: queueWeights names queue ${JSON.stringify(q)}, which this worker does not serve`);
      if (typeof w !== 'number' || !(w > 0) || !Number.isFinite(w)) throw new TypeError(`createWorker: queueWeights.${q} must be a positive number, got ${String(w)}`);
      weights.set(q, w);
    }
    this.weights = weights;
    for (const [name, job] of jobs.jobs) {
      const handler = handlers[name];
      if (this.queues.includes(job.queue) && typeof handler !== 'function') {
        throw new TypeError(`createWorker: no handler for job "${name}" (queue "${job.queue}" is served by this worker)`);
      }
    }
    for (const name of Object.keys(handlers)) {
      if (!jobs.jobs.has(name)) throw new TypeError(`createWorker: handler "${name}" matches no declared job`);
    }

    this.conn = connect(options.redis, 'worker');
    this.scripts = new Scripts(this.conn.redis);
    this.conn.redis.on('error', (err: Error) => this.logger.debug('redis connection error', { error: err.message }));
    for (const q of this.queues) {
      const k = queueKeys(prefix, q);
      this.keys.set(q, k);
      this.types.set(q, throttledTypes(jobs, k));
      this.held.set(q, new Map());
      const blocking = connect(options.redis ?? this.conn.redis, 'blocking');
      blocking.redis.on('error', (err: Error) => this.logger.debug('redis connection error', { error: err.message }));
      // A lone queue parks its fetch behind the blocking read (all free slots ride on it). With several queues a
      // parked fetch would hold slots another queue may need while this one is idle, so they fetch after waking.
      this.fetchers.set(q, new QueueFetcher(this, k, blocking, IDLE_BLOCK_MS, this.queues.length === 1));
    }
    this.renewal = new LeaseRenewal(this, this.keys);
    this.recovery = new LeaseRecovery(this, this.keys);
    const cronJobs = [...jobs.jobs.values()].filter((j) => j.cron !== undefined && this.queues.includes(j.queue));
    this.cron = options.cron === false ? undefined : new CronScheduler(this, cronJobs, this.keys, jobs, prefix);
    if (options.handleSignals) this.installSignalHandlers();
    void this.checkEvictionPolicy();
    for (const f of this.fetchers.values()) f.start();
    this.renewal.start();
    this.recovery.start();
    this.cron?.start();
  }

  get running(): number {
    return this.runningCount;
  }

  /** Reports a problem in the worker's own machinery. */
  reportError(err: unknown, what: string): void {
    if (this.stopping && /Connection is closed/.test(String((err as Error)?.message))) return;
    const mapped = toLibraryError(err, what);
    const error = mapped instanceof Error ? mapped : new Error(String(mapped));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.logger.error(`${what}: ${error.message}`);
  }

  /** Tracks a Redis call that `close()` must wait for. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => {});
    return promise;
  }

  // ---- capacity -------------------------------------------------------------------------------------------

  /**
   * Reserves slots for one fetch from `queue` (running + buffered + being fetched never exceeds the capacity) and
   * returns how many. With several busy queues, each gets a share of the capacity in proportion to its weight; with
   * `queueOrder: 'strict'`, a queue gets slots only while every queue before it is empty. At most `max`.
   */
  reserveCapacity(queue: string, max = Infinity): number {
    if (this.stopping) return 0;
    const free = this.capacity - this.runningCount - this.buffer.length - this.reserved;
    if (free <= 0) return 0;
    let want = free;
    if (this.queues.length > 1) {
      if (this.strictOrder) {
        for (const q of this.queues) {
          if (q === queue) break;
          if (!(this.fetchers.get(q) as QueueFetcher).idle) return 0;
        }
      } else {
        const busy = this.queues.filter((q) => q === queue || !(this.fetchers.get(q) as QueueFetcher).idle);
        if (busy.length > 1) {
          const total = busy.reduce((sum, q) => sum + this.weightOf(q), 0);
          const share = Math.max(1, Math.ceil((this.capacity * this.weightOf(queue)) / total));
          const inFlight = (this.held.get(queue)?.size ?? 0) + (this.reservedBy.get(queue) ?? 0);
          want = Math.min(free, share - inFlight);
        }
      }
    }
    want = Math.min(want, max);
    if (want <= 0) return 0;
    this.reserved += want;
    this.reservedBy.set(queue, (this.reservedBy.get(queue) ?? 0) + want);
    return want;
  }

  /** Returns slots reserved by {@link reserveCapacity} once the fetch answered; `used` of them were filled. */
  releaseCapacity(queue: string, n: number, used: number): void {
    this.reserved -= n;
    this.reservedBy.set(queue, (this.reservedBy.get(queue) ?? 0) - n);
    // Slots this fetch did not fill may be wanted by another queue's fetcher that found none free.
    if (used < n && this.queues.length > 1) this.kickFetchers();
  }

  /**
   * Whether a fetch is worth making now: a slot is free and the buffer of leased-ahead jobs is below half the
   * prefetch (so each call takes several jobs, and the buffer refills before it runs dry).
   */
  wantsJobs(): boolean {
    return this.hasFreeCapacity() && this.buffer.length < this.lowWater;
  }

  /**
   * The buffer is refilled when it falls below half the prefetch, so each call takes several jobs (fewer, bigger
   * calls) while what is left covers the round trip.
   */
  private setPrefetch(prefetch: number): void {
    this.capacity = this.concurrency + prefetch;
    this.lowWater = Math.max(1, Math.ceil(prefetch * LOW_WATER));
  }

  /**
   * Counts a job start and, with automatic prefetch, resizes the buffer every RATE_WINDOW_MS to the jobs this worker
   * starts in AUTO_PREFETCH_AHEAD_MS: between `concurrency` and 4 × `concurrency`. Short jobs get a deeper buffer
   * (fewer, bigger fetches, and a burst of slots freeing at once never finds it empty); long ones keep the default.
   */
  private noteStart(now: number): void {
    if (this.fixedPrefetch !== undefined) return;
    this.rateStarts++;
    const elapsed = now - this.rateSince;
    if (elapsed < RATE_WINDOW_MS) return;
    const wanted = Math.ceil((this.rateStarts / elapsed) * AUTO_PREFETCH_AHEAD_MS);
    this.setPrefetch(Math.max(this.concurrency, Math.min(this.maxPrefetch, wanted)));
    this.rateStarts = 0;
    this.rateSince = now;
  }

  /** A fetch loop found its queue empty: when every queue is, the automatic prefetch starts again from `concurrency`. */
  queueDrained(): void {
    if (this.fixedPrefetch !== undefined) return;
    for (const f of this.fetchers.values()) if (!f.idle) return; // another queue still keeps this worker busy
    this.setPrefetch(this.concurrency);
    this.rateStarts = 0;
    this.rateSince = performance.now();
  }

  /** The most one fetch asks for: half the slots, so a second batch can be on its way while one runs. */
  batchMax(): number {
    return Math.max(1, Math.ceil(this.capacity / 2));
  }

  /** Jobs leased ahead and not started yet. */
  get bufferedCount(): number {
    return this.buffer.length;
  }

  /** Whether a fetch now could take at least one job. */
  hasFreeCapacity(): boolean {
    return !this.stopping && this.capacity - this.runningCount - this.buffer.length - this.reserved > 0;
  }

  private weightOf(queue: string): number {
    return this.weights.get(queue) ?? 1;
  }

  /** Wakes every fetch loop waiting for slots (slots freed, or a queue went idle and its share is free). */
  kickFetchers(): void {
    for (const f of this.fetchers.values()) f.kick();
  }

  // ---- leases ----------------------------------------------------------------------------------------------

  /** Leases this worker holds in `queue`, with their attempt fences. */
  heldLeases(queue: string): Held[] {
    const held = this.held.get(queue);
    if (held === undefined) return [];
    const out: Held[] = [];
    for (const run of held.values()) out.push({ id: run.id, attempt: run.attempt, type: run.typeIndex });
    return out;
  }

  /** The throttled job types of a queue this worker serves. */
  typesOf(queue: string): readonly ThrottledType[] {
    return this.types.get(queue) ?? [];
  }

  /** Called when Redis says leases are no longer ours: stop those handlers, forget the jobs. */
  leasesLost(queue: string, ids: readonly string[]): void {
    const held = this.held.get(queue);
    for (const id of ids) {
      const run = held?.get(id);
      if (run === undefined) continue;
      held?.delete(id);
      this.logger.warn(`lost the lease of job ${id} (${run.job.name}); another worker took it over`, { queue });
      if (run.state === 'buffered') {
        const i = this.buffer.indexOf(run);
        if (i !== -1) this.buffer.splice(i, 1);
      }
      run.state = 'lost';
      abortRun(run, new LeaseExpiredError(`the lease of job ${id} was lost; another worker runs it now`));
    }
  }

  // ---- fetched jobs ----------------------------------------------------------------------------------------

  /** Takes jobs a fetcher leased: checks each one, buffers the good ones and starts what slots allow. */
  accept(queue: string, leased: readonly LeasedJob[]): void {
    const held = this.held.get(queue);
    if (held === undefined) return;
    for (const l of leased) {
      const run = this.prepare(queue, l, 'dequeue');
      if (run === undefined) continue;
      held.set(run.id, run);
      this.buffer.push(run);
    }
    this.dispatch();
  }

  /** Jobs whose lease expired elsewhere, now leased by us: fail their interrupted attempt through the normal path. */
  recovered(queue: string, leased: readonly LeasedJob[]): void {
    const held = this.held.get(queue);
    for (const l of leased) {
      // Our own lease ran out (Redis was away longer than the lease) while the job still runs here: the recovery
      // just gave it a fresh lease, so keep running it rather than failing it.
      if (held?.get(l.id)?.attempt === l.attempt) continue;
      const run = this.prepare(queue, l, 'recovery');
      if (run === undefined) continue;
      run.state = 'running';
      this.logger.warn(`recovered job ${run.id} (${run.job.name}): its lease expired during attempt ${run.attempt}`, { queue });
      this.fail(
        run,
        new LeaseExpiredError(
          `attempt ${run.attempt} of job ${run.id} stopped renewing its lease (the worker crashed, hung or lost Redis for over ${this.leaseMs} ms)`,
        ),
      );
    }
  }

  /** A job's throttled type (its 1-based index among its queue's throttled types, 0 = none) and concurrency slot. */
  private throttleOf(queue: string, name: string): { readonly typeIndex: number; readonly slot: Slot | undefined } {
    let byName = this.throttleInfo.get(queue);
    if (byName === undefined) this.throttleInfo.set(queue, (byName = new Map()));
    let info = byName.get(name);
    if (info === undefined) {
      const types = this.typesOf(queue);
      const typeIndex = types.findIndex((t) => t.name === name) + 1;
      const type = types[typeIndex - 1];
      info = { typeIndex, slot: type !== undefined && type.concurrency > 0 ? { running: type.keys.running, ready: type.keys.ready } : undefined };
      byName.set(name, info);
    }
    return info;
  }

  /** Decodes and validates a leased job; sends it to the dead letters and returns undefined when that fails. */
  private prepare(queue: string, l: LeasedJob, stage: 'dequeue' | 'recovery'): JobRun | undefined {
    const k = this.keys.get(queue) as QueueKeys;
    if (l.invalidId === true) {
      // The script already moved it to the dead letters, in one step with the rename: only report it.
      const error = toStoredError(new Error(`the job id is not valid UTF-8, so no client could address it: renamed to "${l.id}" ("#invalid-utf8:" + the id, bytes outside printable ASCII and "%" as %XX)`), l.attempt);
      this.logger.warn(`job ${l.id} sent to the dead letters (malformed_job): ${error.message}`, { queue });
      const decoded = decodeEnvelope(l.raw);
      this.emit('dead', { job: leasedRef(queue, l, decoded.ok ? decoded.envelope.n : undefined), reason: 'malformed_job', error });
      return undefined;
    }
    const decoded = decodeEnvelope(l.raw);
    if (!decoded.ok) {
      this.toDead(k, leasedRef(queue, l), l.attempt, 'malformed_job', new Error(decoded.reason), { raw: l.raw ?? '' });
      return undefined;
    }
    const env = decoded.envelope;
    const job = this.jobs.jobs.get(env.n);
    if (job === undefined || job.queue !== queue) {
      const why =
        job === undefined
          ? `unknown job name "${env.n}": no job of that name is declared in this worker's job set`
          : `job "${env.n}" belongs to queue "${job.queue}", but was found in queue "${queue}"`;
      this.toDead(k, leasedRef(queue, l, env.n), l.attempt, 'unknown_job', new Error(why), { raw: l.raw ?? '' });
      return undefined;
    }
    const maxAttempts = env.a ?? job.attempts;
    const lock = env.u === undefined ? undefined : k.uniquePrefix + env.u;
    const { typeIndex, slot } = this.throttleOf(queue, job.name);
    let payload: unknown = env.p;
    if (stage === 'dequeue') {
      let parsed: ReturnType<typeof parsePayload>;
      try {
        parsed = parsePayload(job, env.p);
      } catch (thrown) {
        // A transform or refine of the schema threw (not a validation issue): the payload cannot be read either.
        const err = thrown instanceof Error ? thrown : new Error(String(thrown));
        this.toDead(k, leasedRef(queue, l, env.n, maxAttempts), l.attempt, 'invalid_payload', err, { raw: l.raw ?? '', lock, slot });
        return undefined;
      }
      if (!parsed.success) {
        const issues = toIssues(parsed.error);
        const err = new JobValidationError(env.n, issues, 'dequeue');
        this.toDead(k, leasedRef(queue, l, env.n, maxAttempts), l.attempt, 'invalid_payload', err, { raw: l.raw ?? '', issues, lock, slot });
        return undefined;
      }
      payload = parsed.data;
      if (lock !== undefined && job.unique?.until === 'start') {
        this.track(this.scripts.uniqueRelease(lock, l.id)).catch((e: unknown) => this.reportError(e, `releasing the unique lock of job ${l.id}`));
      }
    }
    return {
      id: l.id,
      queue,
      attempt: l.attempt,
      maxAttempts,
      job,
      envelope: env,
      payload,
      controller: undefined,
      lock: job.unique?.until === 'start' && stage === 'dequeue' ? undefined : lock,
      typeIndex,
      slot,
      state: 'buffered',
      startedAt: 0,
      timer: undefined,
    };
  }

  private dispatch(): void {
    while (this.runningCount < this.concurrency && this.buffer.length > 0 && !this.stopping) {
      const run = this.buffer.shift() as JobRun;
      this.start(run);
    }
  }

  private start(run: JobRun): void {
    this.runningCount++;
    run.state = 'running';
    run.startedAt = performance.now();
    this.noteStart(run.startedAt);
    const ctx = new RunContext(run, this.logger);
    const timeoutMs = run.job.timeoutMs;
    if (timeoutMs !== undefined) {
      run.timer = setTimeout(() => {
        const err = new TimeoutError(run.job.name, timeoutMs);
        abortRun(run, err);
        this.fail(run, err);
      }, timeoutMs);
    }
    // One reaction per job (this is the hot path): no Promise.resolve wrapper for promises, no finally.
    const ok = (): void => {
      try {
        this.succeed(run);
      } finally {
        this.ended(run);
      }
    };
    const failed = (err: unknown): void => {
      try {
        this.fail(run, err);
      } finally {
        this.ended(run);
      }
    };
    let result: Promise<void> | void;
    try {
      result = this.invoke(run, ctx);
    } catch (err) {
      queueMicrotask(() => failed(err));
      return;
    }
    if (result instanceof Promise) result.then(ok, failed);
    else if (isThenable(result)) Promise.resolve(result).then(ok, failed);
    else queueMicrotask(ok);
  }

  /** A handler call ended (either way): free its slot and start the next job. */
  private ended(run: JobRun): void {
    if (run.timer !== undefined) clearTimeout(run.timer);
    this.runningCount--;
    this.dispatch();
    if (this.runningCount === 0 && this.buffer.length === 0) this.notifyIdle();
    this.kickFetchers();
  }

  private invoke(run: JobRun, ctx: RunContext): Promise<void> | void {
    const handler = this.handlers[run.job.name] as Handler<unknown>;
    if (this.middleware.length === 0) return handler(run.payload, ctx);
    const mctx: MiddlewareContext = ctx as RunContext;
    const step = (i: number): Promise<void> => {
      const mw = this.middleware[i];
      if (mw === undefined) return Promise.resolve(handler(run.payload, ctx));
      let called = false;
      return mw(mctx, () => {
        if (called) return Promise.reject(new Error('middleware called next() more than once'));
        called = true;
        return step(i + 1);
      });
    };
    return step(0);
  }

  private ref(run: JobRun): JobRef {
    return { id: run.id, name: run.job.name, queue: run.queue, attempt: run.attempt, maxAttempts: run.maxAttempts };
  }

  private succeed(run: JobRun): void {
    if (run.state !== 'running') return;
    run.state = 'acking';
    (this.fetchers.get(run.queue) as QueueFetcher).ack(run);
  }

  /** Called by a fetcher once acks are recorded; `stale` were refused (the lease had moved on). */
  acked(runs: readonly JobRun[], stale: readonly string[]): void {
    const refused = stale.length === 0 ? undefined : new Set(stale);
    for (const run of runs) {
      this.held.get(run.queue)?.delete(run.id);
      if (refused?.has(run.id)) {
        this.logger.warn(`job ${run.id} (${run.job.name}) finished after its lease was taken over; the completion was not recorded`);
        run.state = 'lost';
        continue;
      }
      run.state = 'done';
      if (this.listenerCount('completed') > 0) this.emit('completed', { job: this.ref(run), durationMs: performance.now() - run.startedAt });
    }
  }

  /** Fails an attempt: snooze, retry after backoff, or dead letter. */
  private fail(run: JobRun, err: unknown): void {
    if (run.state !== 'running') return;
    run.state = 'failing';
    const k = this.keys.get(run.queue) as QueueKeys;
    const held = this.held.get(run.queue);
    const fence: Ack = { id: run.id, attempt: run.attempt };
    const done = (ok: boolean): void => {
      held?.delete(run.id);
      run.state = ok ? 'done' : 'lost';
      if (!ok) this.logger.warn(`job ${run.id} (${run.job.name}) failed after its lease was taken over; the failure was not recorded`);
    };
    const onError = (e: unknown): void => {
      held?.delete(run.id);
      this.reportError(e, `recording the failure of job ${run.id}`);
    };

    if (err instanceof SnoozeSignal) {
      this.track(this.scripts.reschedule(k, fence, err.delayMs, '', true, run.slot)).then(done, onError);
      return;
    }
    const permanent = err instanceof PermanentError;
    const willRetry = !permanent && run.attempt < run.maxAttempts;
    const ref = this.ref(run);
    this.emit('failed', { job: ref, error: err, willRetry });
    if (!willRetry) {
      this.toDead(k, ref, run.attempt, permanent ? 'permanent_error' : 'attempts_exhausted', err, { then: done, lock: run.lock, slot: run.slot });
      return;
    }
    const delayMs = retryDelay(run.job.backoff, run.attempt);
    const stored = JSON.stringify(toStoredError(err, run.attempt));
    this.track(this.scripts.reschedule(k, fence, delayMs, stored, false, run.slot)).then((ok) => {
      done(ok);
      if (ok) this.emit('retrying', { job: ref, error: err, delayMs });
    }, onError);
  }

  /** Moves a job to the dead letters and emits `dead`. */
  private toDead(
    k: QueueKeys,
    ref: JobRef,
    attempt: number,
    reason: DeadReason,
    err: unknown,
    more: {
      /** The stored value to keep when the jobs hash has none for the id. */
      readonly raw?: string;
      readonly issues?: readonly PayloadIssue[];
      /** Called with whether the dead letter was recorded (false: the lease had moved on). */
      readonly then?: (ok: boolean) => void;
      readonly lock?: string;
      readonly slot?: Slot;
    } = {},
  ): void {
    const { raw = '', issues, then, lock, slot } = more;
    const error: StoredError = toStoredError(err, attempt);
    const info: DeadInfo = { reason, error, attempts: attempt, diedAt: Date.now(), issues };
    if (reason !== 'attempts_exhausted' && reason !== 'permanent_error') {
      this.logger.warn(`job ${ref.id} sent to the dead letters (${reason}): ${error.message}`, { queue: ref.queue });
    }
    this.track(this.scripts.dead(k, ref.id, attempt, JSON.stringify(info), this.maxDead, raw, lock, slot)).then(
      (ok) => {
        then?.(ok);
        if (ok) this.emit('dead', { job: ref, reason, error });
      },
      (e: unknown) => {
        then?.(false);
        this.reportError(e, `moving job ${ref.id} to the dead letters`);
      },
    );
  }

  // ---- shutdown --------------------------------------------------------------------------------------------

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private waitIdle(ms: number): Promise<boolean> {
    if (this.runningCount === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.recovery.stop();
    await this.cron?.stop();
    // Stop fetching: blocked reads are cut off, loops finish their current call.
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()));
    // Jobs leased ahead but never started go back at once.
    const unstarted = this.buffer.splice(0);
    await this.handBack(unstarted);
    const finished = await this.waitIdle(this.shutdownTimeoutMs);
    if (!finished) {
      const stillRunning: JobRun[] = [];
      for (const held of this.held.values()) for (const run of held.values()) if (run.state === 'running') stillRunning.push(run);
      this.logger.warn(`shutdown: ${stillRunning.length} job(s) still running after ${this.shutdownTimeoutMs} ms; aborting them and handing them back`);
      for (const run of stillRunning) {
        run.state = 'released';
        abortRun(run, new ShutdownError('the worker is shutting down'));
      }
      await this.handBack(stillRunning);
    }
    await Promise.all([...this.fetchers.values()].map((f) => f.flushAcks()));
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.renewal.stop();
    this.removeSignalHandlers?.();
    await Promise.all([...this.fetchers.values()].map((f) => f.closeConnection()));
    await release(this.conn);
  }

  private async handBack(runs: readonly JobRun[]): Promise<void> {
    const byQueue = new Map<string, JobRun[]>();
    for (const run of runs) {
      run.state = 'released';
      this.held.get(run.queue)?.delete(run.id);
      byQueue.set(run.queue, [...(byQueue.get(run.queue) ?? []), run]);
    }
    await Promise.all(
      [...byQueue].map(([queue, list]) =>
        this.scripts
          .release(
            this.keys.get(queue) as QueueKeys,
            this.typesOf(queue),
            list.map((r) => ({ id: r.id, attempt: r.attempt, priority: r.envelope.r ?? 0, type: r.typeIndex })),
          )
          .catch((e: unknown) => this.reportError(e, `handing ${list.length} job(s) back to queue "${queue}"`)),
      ),
    );
  }

  private installSignalHandlers(): void {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        this.logger.warn(`${signal} again: exiting now`);
        process.exit(1);
      }
      signalled = true;
      this.logger.info(`${signal}: closing the worker`);
      this.close().then(
        () => process.exit(0),
        (err: unknown) => {
          this.logger.error(`closing the worker failed: ${String(err)}`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    this.removeSignalHandlers = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    };
  }

  private async checkEvictionPolicy(): Promise<void> {
    try {
      const reply = (await this.conn.redis.config('GET', 'maxmemory-policy')) as unknown;
      const policy = Array.isArray(reply) ? String(reply[1] ?? '') : '';
      if (policy !== '' && policy !== 'noeviction') {
        this.logger.warn(
          `Redis maxmemory-policy is "${policy}": under memory pressure Redis may evict job keys and lose jobs. Set it to "noeviction".`,
        );
      }
    } catch {
      // CONFIG may be disabled (managed Redis); nothing to check then.
    }
  }
}

/**
 * Starts a worker that runs the handlers of `jobs` for the queues it serves (all by default, or `options.queues`).
 * The handler map must hold exactly one handler per job of those queues: a missing, extra or mistyped handler does
 * not compile.
 *
 * @example
 * const worker = createWorker(jobs, {
 *   sendWelcomeEmail: async ({ email }, ctx) => { await mailer.send(email, { signal: ctx.signal }); },
 * }, { concurrency: 20 });
 */
export function createWorker<J extends JobSet, const Q extends QueueName<J> = QueueName<J>>(
  jobs: J,
  handlers: HandlersFor<J, JobsInQueue<J, Q>>,
  options: WorkerOptions<Q> = {},
): Worker {
  return new WorkerCore(jobs, handlers as unknown as Record<string, Handler<unknown>>, options);
}
