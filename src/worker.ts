import type { JobName, JobSet, JobsInQueue, PayloadOutput, QueueName, ResolvedJob } from './define.js';
import { retryDelay } from './backoff.js';
import { toMs, type Duration } from './durations.js';
import {
  JobValidationError,
  InvalidArgumentError,
  LeaseExpiredError,
  PermanentError,
  ShutdownError,
  SnoozeSignal,
  TimeoutError,
  storedErrorJson,
  toStoredError,
  type PayloadIssue,
  type StoredError,
} from './errors.js';
import { deadInfoJson, type DeadInfo, type DeadReason } from './dead-letters.js';
import { TypedEmitter, type JobRef, type WorkerEvents } from './events.js';
import { DEFAULT_PREFIX, PREFIX_PATTERN, cronQueuesKey, queueKeys, type QueueKeys } from './keys.js';
import { resolveLogger, type Logger } from './logger.js';
import { DEFAULT_WORKER_MAX_PAYLOAD_BYTES, checkStoredJob, decodeEnvelope, headFieldsOf, parsePayload, storedJobTooBig, toIssues, type Envelope } from './payload.js';
import { ENVELOPE_OVERHEAD_BYTES, MAX_DEAD_INFO_BYTES, truncateBytes } from './bounds.js';
import { connect, describeConnection, release, type OwnedConnection, type RedisConfig } from './redis.js';
import { ConnectionHealth } from './connection-health.js';
import { startAfterChecks } from './preflight.js';
import { Scripts, toLibraryError, type Ack, type LeasedJob, type Slot } from './scripts.js';
import { throttledTypes, type ThrottledType } from './throttle.js';
import { QueueFetcher } from './queue-fetcher.js';
import { LeaseRenewal, leaseMarginMs, renewalIntervalMs } from './lease-renewal.js';
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
  /**
   * Aborts on timeout, on forced shutdown, and when the worker lost the job's lease or could not renew it in time
   * (then min(5 s, leaseMs / 5) before another worker may take the job over). `signal.reason` says which.
   */
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
  /**
   * Lease length. A job whose worker stops renewing is recovered this long after the last renewal. Default 30 000;
   * at least 100, at most 86 400 000 (24 h).
   */
  readonly leaseMs?: number;
  /**
   * How long `close()` waits for running handlers before aborting them and handing their jobs back. Default 10 000.
   * `close()` resolves at most 2 s after this, even when Redis does not answer (see {@link Worker.close}).
   */
  readonly shutdownTimeoutMs?: number;
  /** How many completed jobs to remember for `getJob`, and for how long. Default 1,000 and `"1h"`; count 0 keeps none. */
  readonly keepCompleted?: { readonly count?: number; readonly age?: Duration };
  /** Dead letters kept per queue (oldest dropped first). Default 10,000. */
  readonly deadLetters?: { readonly max?: number };
  /**
   * Largest payload this worker parses, in bytes of JSON (as the client's option). A guard for the event loop, not a
   * policy: a stored job over it (plus 1 KiB of envelope) goes to the dead letters unparsed. Default 16 MiB
   * ({@link DEFAULT_WORKER_MAX_PAYLOAD_BYTES}); keep it at least the largest `maxPayloadBytes` of any client.
   */
  readonly maxPayloadBytes?: number;
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
  /**
   * Run even when Redis's `maxmemory-policy` may evict keys (anything but `noeviction`); then evicted jobs are lost.
   * Default false: on such a Redis the worker does not start (`ready` rejects with `RedisConfigurationError`).
   */
  readonly allowEvictingRedis?: boolean;
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
   * Resolves once the startup checks of Redis passed and the worker fetches jobs (or `close()` came first). Rejects
   * with `RedisConfigurationError` when the worker refuses to start: Redis may evict keys (see `allowEvictingRedis`)
   * or its user lacks a permission jobcraft needs. Connection problems do not reject it: it waits for Redis. A refused
   * worker closes itself (its connections are released); with `handleSignals` the process exits with code 1.
   */
  readonly ready: Promise<void>;
  /**
   * Stops fetching, waits up to `shutdownTimeoutMs` for running handlers, then aborts the rest and hands every
   * unfinished job back to its queue at once. Resolves when all is recorded in Redis and connections are closed, or
   * at most 2 s after `shutdownTimeoutMs` when Redis does not answer: then it warns, naming the jobs it could not
   * hand back or record (they run again once their lease expires).
   */
  close(): Promise<void>;
}

const IDLE_BLOCK_MS = 5_000;
/** close() gives Redis this long, after `shutdownTimeoutMs`, to record hand-backs and completions. */
const SHUTDOWN_REDIS_MS = 2_000;
/** A shutdown warning names at most this many jobs. */
const MAX_NAMED = 20;
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
  /** The fence: Redis's attempt number for the lease (a duplicate lease of the same id moves it on). */
  attempt: number;
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
  /** `expired`: still running, but its local lease deadline passed, so its signal was aborted (see LeaseRenewal). */
  state: 'buffered' | 'running' | 'expired' | 'acking' | 'failing' | 'done' | 'released' | 'lost';
  startedAt: number;
  /** When this worker stops counting on its lease (performance.now() time): the last confirmed grant or renewal. */
  deadline: number;
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
      throw new SnoozeSignal(toMs(delay, `snooze of job ${id}`, 'delay'));
    };
  }
}

function controllerOf(run: JobRun): AbortController {
  run.controller ??= new AbortController();
  return run.controller;
}

/** Stops a run's pending timer (its timeout, or its give-up margin). */
function clearRunTimer(run: JobRun): void {
  if (run.timer !== undefined) clearTimeout(run.timer);
  run.timer = undefined;
}

/** Aborts a run's signal with `reason` (creating the controller, so a later read of `ctx.signal` sees it). */
function abortRun(run: JobRun, reason: Error): void {
  controllerOf(run).abort(reason);
}

/** The identity of a leased job for a dead letter, as far as it is known. */
function leasedRef(queue: string, l: LeasedJob, name?: string, maxAttempts?: number): JobRef {
  return { id: l.id, name, queue, attempt: l.attempt, maxAttempts };
}

/** Waits for `promise` until `deadline` (performance.now() time): true if it settled by then, either way. */
function settleBy(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
    const settled = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(settled, settled);
  });
}

/** `id (name, state)` for up to MAX_NAMED runs, for a log line. */
function nameRuns(runs: Iterable<JobRun>): string {
  const all = [...runs];
  const named = all.slice(0, MAX_NAMED).map((r) => `${r.id} (${r.job.name}, ${r.state})`);
  return named.join(', ') + (all.length > MAX_NAMED ? ` and ${all.length - MAX_NAMED} more` : '');
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function positiveInt(value: number | undefined, fallback: number, what: string, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError('createWorker', what, `${what} must be an integer of at least ${min}, got ${String(v)}`);
  return v;
}

/**
 * A lease deadline noticed later than max(margin / 4, this) means the process stalled (the attempt counts); less is
 * ordinary timer lag on a loaded machine (Redis was slow: the attempt is given back).
 */
const STALL_FLOOR_MS = 250;

/** The longest lease (24 h): its timers must stay within setTimeout's limit (2^31 − 1 ms, about 24.8 days). */
const MAX_LEASE_MS = 86_400_000;

/** The worker's machinery, shared by its fetchers and its lease loops. Use {@link createWorker}. */
export class WorkerCore extends TypedEmitter<WorkerEvents> implements Worker {
  readonly queues: readonly string[];
  readonly logger: Logger;
  readonly scripts: Scripts;
  readonly leaseMs: number;
  /** How long before a lease can expire in Redis this worker gives it up when it could not renew it. */
  readonly leaseMarginMs: number;
  /** A job leased ahead starts only with at least this much of its local lease left (one renewal interval + half the margin). */
  private readonly startLeaseMs: number;
  readonly keepCount: number;
  readonly keepAgeMs: number;
  readonly maxDead: number;
  /** Largest stored job (envelope) parsed: `maxPayloadBytes` + the envelope's own fields. */
  readonly maxEnvelopeBytes: number;
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
  /** Jobs given back (or failed) whose record has not reached Redis yet: close() names those left at the end. */
  private readonly unreturned = new Set<JobRun>();
  /** Runs given up locally whose handler has not settled yet (handed back when it does, or after the margin). */
  private readonly givingUp = new Set<JobRun>();
  /** close() waiting for the next of them to be handed back. */
  private giveUpWaiters: (() => void)[] = [];
  /**
   * Runs given up because this process stalled (the deadline was noticed well after it passed): their attempt is
   * charged, as a crash's would be, so a job that stalls its worker every time dies after its attempts instead of
   * being handed back forever.
   */
  private readonly stalledRuns = new Set<JobRun>();
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
  readonly ready: Promise<void>;
  private removeSignalHandlers: (() => void) | undefined;

  constructor(jobs: JobSet, handlers: Readonly<Record<string, Handler<unknown>>>, options: WorkerOptions) {
    const logger = resolveLogger(options.logger);
    super(logger);
    this.logger = logger;
    this.jobs = jobs;
    this.handlers = handlers;
    this.middleware = options.middleware ?? [];
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!PREFIX_PATTERN.test(prefix)) throw new InvalidArgumentError('createWorker', 'prefix', `prefix ${JSON.stringify(prefix)} may only hold letters, digits and _ - . : (1 to 64 characters)`);
    this.concurrency = positiveInt(options.concurrency, 10, 'concurrency');
    this.fixedPrefetch = options.prefetch === undefined ? undefined : positiveInt(options.prefetch, 0, 'prefetch', 0);
    if (this.concurrency + (this.fixedPrefetch ?? this.concurrency) > MAX_SLOTS) {
      throw new InvalidArgumentError('createWorker', 'prefetch', `concurrency + prefetch must not exceed ${MAX_SLOTS.toLocaleString('en-US')}`);
    }
    this.maxPrefetch = this.fixedPrefetch ?? Math.min(AUTO_PREFETCH_MAX_FACTOR * this.concurrency, MAX_SLOTS - this.concurrency);
    this.setPrefetch(this.fixedPrefetch ?? this.concurrency);
    this.leaseMs = positiveInt(options.leaseMs, 30_000, 'leaseMs', 100);
    if (this.leaseMs > MAX_LEASE_MS) {
      throw new InvalidArgumentError('createWorker', 'leaseMs', `leaseMs must be at most ${MAX_LEASE_MS} (24 h; the worker's timers cannot count longer), got ${this.leaseMs}`);
    }
    this.leaseMarginMs = leaseMarginMs(this.leaseMs);
    this.startLeaseMs = renewalIntervalMs(this.leaseMs) + Math.floor(this.leaseMarginMs / 2);
    this.shutdownTimeoutMs = positiveInt(options.shutdownTimeoutMs, 10_000, 'shutdownTimeoutMs', 0);
    this.keepCount = positiveInt(options.keepCompleted?.count, 1_000, 'keepCompleted.count', 0);
    this.keepAgeMs = toMs(options.keepCompleted?.age ?? '1h', 'createWorker', 'keepCompleted.age');
    this.maxDead = positiveInt(options.deadLetters?.max, 10_000, 'deadLetters.max');
    this.maxEnvelopeBytes = positiveInt(options.maxPayloadBytes, DEFAULT_WORKER_MAX_PAYLOAD_BYTES, 'maxPayloadBytes') + ENVELOPE_OVERHEAD_BYTES;

    const known: readonly string[] = jobs.queues;
    const queues: readonly string[] = options.queues ?? known;
    if (queues.length === 0) throw new InvalidArgumentError('createWorker', 'queues', 'queues is empty; name at least one queue to serve');
    for (const q of queues) {
      if (!known.includes(q)) throw new InvalidArgumentError('createWorker', 'queues', `queue ${JSON.stringify(q)} has no jobs (queues: ${known.join(', ')})`);
    }
    this.queues = [...new Set(queues)];
    this.strictOrder = options.queueOrder === 'strict';
    if (options.queueOrder !== undefined && options.queueOrder !== 'strict' && options.queueOrder !== 'weighted') {
      throw new InvalidArgumentError('createWorker', 'queueOrder', `queueOrder must be "weighted" or "strict", got ${JSON.stringify(options.queueOrder)}`);
    }
    const weights = new Map<string, number>();
    for (const [q, w] of Object.entries(options.queueWeights ?? {})) {
      if (!this.queues.includes(q)) throw new InvalidArgumentError('createWorker', 'queueWeights', `queueWeights names queue ${JSON.stringify(q)}, which this worker does not serve`);
      if (typeof w !== 'number' || !(w > 0) || !Number.isFinite(w)) throw new InvalidArgumentError('createWorker', `queueWeights.${q}`, `queueWeights.${q} must be a positive number, got ${String(w)}`);
      weights.set(q, w);
    }
    this.weights = weights;
    for (const [name, job] of jobs.jobs) {
      const handler = handlers[name];
      if (this.queues.includes(job.queue) && typeof handler !== 'function') {
        throw new InvalidArgumentError('createWorker', 'handlers', `no handler for job "${name}" (queue "${job.queue}" is served by this worker)`);
      }
    }
    for (const name of Object.keys(handlers)) {
      if (!jobs.jobs.has(name)) throw new InvalidArgumentError('createWorker', 'handlers', `handler "${name}" matches no declared job`);
    }

    this.conn = connect(options.redis, 'worker');
    this.scripts = new Scripts(this.conn.redis);
    const where = describeConnection(this.conn.redis);
    const health = new ConnectionHealth(this.logger, where);
    // A connection passed in stays the caller's: no listeners of ours are left on it (its errors are the caller's to log).
    if (this.conn.owned) health.watch(this.conn.redis);
    for (const q of this.queues) {
      const k = queueKeys(prefix, q);
      this.keys.set(q, k);
      this.types.set(q, throttledTypes(jobs, k));
      this.held.set(q, new Map());
      const blocking = connect(options.redis ?? this.conn.redis, 'blocking');
      if (blocking.owned) health.watch(blocking.redis);
      // A lone queue parks its fetch behind the blocking read (all free slots ride on it). With several queues a
      // parked fetch would hold slots another queue may need while this one is idle, so they fetch after waking.
      // A fetch parked behind the blocking read is sent long before Redis runs it; its jobs' local lease deadlines
      // count from the send, so the read must end well within the lease.
      const blockMs = Math.min(IDLE_BLOCK_MS, Math.floor(this.leaseMs / 4));
      this.fetchers.set(q, new QueueFetcher(this, k, blocking, blockMs, this.queues.length === 1));
    }
    this.renewal = new LeaseRenewal(this, this.keys);
    this.recovery = new LeaseRecovery(this, this.keys);
    const cronJobs = [...jobs.jobs.values()].filter((j) => j.cron !== undefined && this.queues.includes(j.queue));
    this.cron = options.cron === false ? undefined : new CronScheduler(this, cronJobs, this.keys, jobs, prefix);
    if (options.handleSignals) this.installSignalHandlers();
    const checks = {
      role: 'worker',
      sampleKeys: [...this.keys.values()].map((k) => k.jobs),
      registryKey: this.cron === undefined ? undefined : cronQueuesKey(prefix),
      where,
      allowEvicting: options.allowEvictingRedis === true,
      logger: this.logger,
    } as const;
    // Nothing is fetched until Redis passed the checks (eviction policy, ACL permissions): see preflight.ts.
    this.ready = startAfterChecks(this.conn.redis, checks, {
      logger: this.logger,
      isStopping: () => this.stopping,
      refused: (err) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
        // A worker that will not start holds nothing: its connections close (nothing keeps the process alive), and a
        // process run under handleSignals exits non-zero so that its supervisor sees the failure and restarts it.
        void this.close().then(() => {
          if (options.handleSignals === true) {
            this.logger.error('the worker did not start: exiting with code 1');
            process.exit(1);
          }
        });
      },
      start: () => {
        for (const f of this.fetchers.values()) f.start();
        this.renewal.start();
        this.recovery.start();
        this.cron?.start();
      },
    });
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

  /** The jobs whose leases this worker holds in `queue` (buffered, running, or on their way to being recorded). */
  heldRuns(queue: string): JobRun[] {
    const held = this.held.get(queue);
    return held === undefined ? [] : [...held.values()];
  }

  /** Where a lease granted or renewed by a call sent at `sentAt` ends for this worker (performance.now() time). */
  leaseDeadline(sentAt: number): number {
    return sentAt + this.leaseMs - this.leaseMarginMs;
  }

  /**
   * A renewal sent when `deadline` was computed went through: those of `runs` still held are ours until then. Not a
   * run whose deadline has passed: Redis may have run the renewal after the lease expired and another worker had
   * taken the job over (recovery leases it under the same attempt until it records the failure), so only an answer
   * read before the deadline proves the lease was still ours.
   */
  leasesRenewed(queue: string, runs: readonly JobRun[], deadline: number): void {
    const held = this.held.get(queue);
    const now = performance.now();
    for (const run of runs) if (held?.get(run.id) === run && run.deadline > now && run.deadline < deadline) run.deadline = deadline;
  }

  /**
   * Gives up every lease whose local deadline passed by `now` (no renewal confirmed in time: Redis is unreachable,
   * slow, or this process stalled): a running handler's signal aborts with `LeaseExpiredError`, a job leased ahead
   * leaves the buffer and is handed back (fenced, so only if the lease is still ours), and none is renewed again.
   * A job whose end is on its way to Redis is left to its fenced record. Returns how many were given up and the
   * earliest deadline left.
   */
  expireLeases(now: number): { expired: number; next: number } {
    let next = Infinity;
    let expired: JobRun[] | undefined;
    let unstarted: JobRun[] | undefined;
    for (const held of this.held.values()) {
      for (const run of held.values()) {
        if (run.deadline > now) {
          if (run.deadline < next) next = run.deadline;
          continue;
        }
        held.delete(run.id);
        if (run.state === 'buffered') (unstarted ??= []).push(run);
        else if (run.state === 'running') {
          run.state = 'expired';
          (expired ??= []).push(run);
          // Noticed late: the process (a handler blocking the event loop, or the machine) stalled, not Redis.
          if (now - run.deadline > Math.max(this.leaseMarginMs / 4, STALL_FLOOR_MS)) this.stalledRuns.add(run);
          // Handed back once the handler settles, or once the margin has passed if it ignores its signal: never
          // sooner, so no other worker starts the job while a handler that honours its signal is still stopping.
          clearRunTimer(run);
          run.timer = setTimeout(() => this.giveUp(run), this.leaseMarginMs);
          this.givingUp.add(run);
          abortRun(
            run,
            new LeaseExpiredError(
              `the lease of job ${run.id} could not be renewed in time (no renewal confirmed by Redis for ${this.leaseMs - this.leaseMarginMs} ms); another worker may run it once the lease expires`,
            ),
          );
        }
      }
    }
    if (unstarted !== undefined) {
      const drop = new Set(unstarted);
      const keep = this.buffer.filter((r) => !drop.has(r));
      this.buffer.length = 0;
      this.buffer.push(...keep);
      void this.handBack(unstarted);
      this.kickFetchers();
      // The next job leased ahead may have a fresher lease (dispatch calls this itself, so later, not nested).
      if (this.buffer.length > 0) queueMicrotask(() => this.dispatch());
    }
    const given = [...(expired ?? []), ...(unstarted ?? [])];
    if (given.length > 0) {
      this.logger.info(
        `gave up ${given.length} lease(s) that could not be renewed in time: ${expired?.length ?? 0} running handler(s) aborted, ${unstarted?.length ?? 0} job(s) leased ahead not started: ${nameRuns(given)}`,
      );
    }
    return { expired: given.length, next };
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
      // A run aborted at shutdown and waiting to be handed back: nothing to hand back now, so close() stops waiting.
      if (this.givingUp.delete(run)) {
        this.stalledRuns.delete(run);
        clearRunTimer(run);
        this.notifyGiveUp();
      }
      abortRun(run, new LeaseExpiredError(`the lease of job ${id} was lost; another worker runs it now`));
    }
  }

  // ---- fetched jobs ----------------------------------------------------------------------------------------

  /**
   * Takes jobs a fetcher leased with a call sent at `sentAt` (performance.now() time): checks each one, buffers the
   * good ones and starts what slots allow.
   */
  accept(queue: string, leased: readonly LeasedJob[], sentAt: number): void {
    const held = this.held.get(queue);
    if (held === undefined || leased.length === 0) return;
    const deadline = this.leaseDeadline(sentAt);
    for (const l of leased) {
      const twin = held.get(l.id);
      if (twin !== undefined) {
        this.leasedAgain(twin, l, deadline);
        continue;
      }
      const run = this.prepare(queue, l, 'dequeue');
      if (run === undefined) continue;
      run.deadline = deadline;
      held.set(run.id, run);
      this.buffer.push(run);
    }
    this.renewal.watch(deadline);
    this.dispatch();
  }

  /**
   * The id of a job this worker already holds was leased again (it was in the queue twice, e.g. a producer's retried
   * push): Redis now fences the job under the newer attempt, so the run adopts that lease instead of running twice.
   * A run whose end is already on its way to Redis keeps its old fence (refused; the job comes back by recovery).
   */
  private leasedAgain(run: JobRun, l: LeasedJob, deadline: number): void {
    this.logger.warn(`job ${l.id} (${run.job.name}) was leased again while this worker held it (its id was queued twice); it runs once`, {
      queue: run.queue,
    });
    if (run.state !== 'buffered' && run.state !== 'running') return;
    run.attempt = l.attempt;
    if (deadline > run.deadline) run.deadline = deadline;
  }

  /** Jobs whose lease expired elsewhere, now leased by us: fail their interrupted attempt through the normal path. */
  recovered(queue: string, leased: readonly LeasedJob[], sentAt: number): void {
    const held = this.held.get(queue);
    for (const l of leased) {
      // Our own lease expired in Redis while its local deadline had not passed yet (Redis's clock jumped, or it ran
      // our renewal late): the recovery just gave it a fresh lease, sent at sentAt, so keep the run, with that lease.
      const own = held?.get(l.id);
      if (own !== undefined && own.attempt === l.attempt) {
        const deadline = this.leaseDeadline(sentAt);
        if (deadline > own.deadline) own.deadline = deadline;
        continue;
      }
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
      // The name from the envelope's head, never a parse: the stored job may be megabytes (then only its head came).
      const { job: name } = headFieldsOf(l.raw ?? l.tooBig?.head ?? '');
      this.emit('dead', { job: leasedRef(queue, l, name), reason: 'malformed_job', error });
      return undefined;
    }
    // Size and depth are checked on the text, before anything parses it (JSON.parse of megabytes blocks the loop).
    // (Redis sends only the size and head of a job over the limit: `tooBig`.)
    const hostile =
      l.tooBig !== undefined
        ? storedJobTooBig(l.tooBig.bytes, l.tooBig.head, this.maxEnvelopeBytes)
        : l.raw === null
          ? undefined
          : checkStoredJob(l.raw, this.maxEnvelopeBytes);
    if (hostile !== undefined) {
      // The jobs hash keeps the stored text; the copy sent along (kept only if that entry is gone) is cut short.
      const raw = truncateBytes(l.raw ?? '', MAX_DEAD_INFO_BYTES);
      if (hostile.job === undefined) {
        // Not an envelope jobcraft writes (no readable name): malformed, whatever its payload would have been.
        this.toDead(k, leasedRef(queue, l), l.attempt, 'malformed_job', new Error(`not a jobcraft job: ${hostile.issue.message}`), { raw });
        return undefined;
      }
      const err = new JobValidationError(hostile.job, [hostile.issue], 'dequeue');
      // Released like any dead job's: its unique lock (key read from the head) and its type's concurrency slot.
      const lock = hostile.unique === undefined ? undefined : k.uniquePrefix + hostile.unique;
      const known = this.jobs.jobs.get(hostile.job);
      const slot = known !== undefined && known.queue === queue ? this.throttleOf(queue, known.name).slot : undefined;
      this.toDead(k, leasedRef(queue, l, hostile.job), l.attempt, 'invalid_payload', err, { raw, issues: err.issues, lock, slot });
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
        const err = new JobValidationError(env.n, toIssues(parsed.error), 'dequeue');
        // The error's issues are bounded (at most 20, each short): stored once, next to a message listing the first.
        this.toDead(k, leasedRef(queue, l, env.n, maxAttempts), l.attempt, 'invalid_payload', err, { raw: l.raw ?? '', issues: err.issues, lock, slot });
        return undefined;
      }
      payload = parsed.data;
      if (lock !== undefined && job.unique?.until === 'start') {
        this.track(this.scripts.uniqueRelease(lock, { id: l.id })).catch((e: unknown) => this.reportError(e, `releasing the unique lock of job ${l.id}`));
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
      deadline: Infinity,
      timer: undefined,
    };
  }

  private dispatch(): void {
    let late: JobRun[] | undefined;
    while (this.runningCount < this.concurrency && this.buffer.length > 0 && !this.stopping) {
      const run = this.buffer.shift() as JobRun;
      const now = performance.now();
      // Never start a job whose lease may be someone else's before a renewal can confirm it: hand it back instead.
      if (run.deadline - now < this.startLeaseMs) {
        (late ??= []).push(run);
        continue;
      }
      this.start(run, now);
    }
    if (late !== undefined) {
      this.logger.info(`handed back ${late.length} job(s) leased ahead whose lease was too close to its local deadline to start: ${nameRuns(late)}`);
      void this.handBack(late);
      this.kickFetchers();
    }
  }

  private start(run: JobRun, now: number): void {
    this.runningCount++;
    run.state = 'running';
    run.startedAt = now;
    this.noteStart(now);
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
    // A run given up locally may have stopped half-way (it saw its signal): its end is a hand-back, not a completion.
    if (run.state === 'expired') return this.giveUp(run);
    if (run.state !== 'running') return;
    run.state = 'acking';
    (this.fetchers.get(run.queue) as QueueFetcher).ack(run);
  }

  /** Called by a fetcher once acks are recorded; `stale` were refused (the lease had moved on). */
  acked(runs: readonly JobRun[], stale: readonly string[]): void {
    const refused = stale.length === 0 ? undefined : new Set(stale);
    for (const run of runs) {
      const held = this.held.get(run.queue);
      // Not held any more: its lease ran out locally, which was already reported (once).
      const gaveUp = held?.get(run.id) !== run;
      if (!gaveUp) held?.delete(run.id);
      if (refused?.has(run.id)) {
        this.noteRefused(run, gaveUp, 'finished', 'completion');
        run.state = 'lost';
        continue;
      }
      run.state = 'done';
      if (this.listenerCount('completed') > 0) this.emit('completed', { job: this.ref(run), durationMs: performance.now() - run.startedAt });
    }
  }

  /** Says that Redis refused a run's record (its lease had moved on): only `info` when its give-up was already reported. */
  private noteRefused(run: JobRun, gaveUp: boolean, what: 'finished' | 'failed', record: 'completion' | 'failure'): void {
    const message = `job ${run.id} (${run.job.name}) ${what} after its lease was taken over; the ${record} was not recorded`;
    if (gaveUp) this.logger.info(message);
    else this.logger.warn(message);
  }

  /** Fails an attempt: snooze, retry after backoff, or dead letter. */
  private fail(run: JobRun, err: unknown): void {
    // Given up locally: the attempt did not fail, the worker stopped it (the attempt is given back if still ours).
    if (run.state === 'expired') return this.giveUp(run);
    if (run.state !== 'running') return;
    run.state = 'failing';
    const k = this.keys.get(run.queue) as QueueKeys;
    const held = this.held.get(run.queue);
    const fence: Ack = { id: run.id, attempt: run.attempt };
    const done = (ok: boolean): void => {
      // Its lease ran out locally meanwhile (already reported): a refused record is then expected.
      const gaveUp = held?.get(run.id) !== run;
      if (!gaveUp) held?.delete(run.id);
      run.state = ok ? 'done' : 'lost';
      if (!ok) this.noteRefused(run, gaveUp, 'failed', 'failure');
    };
    const onError = (e: unknown): void => {
      if (held?.get(run.id) === run) held.delete(run.id);
      if (this.stopping) this.unreturned.add(run);
      this.reportError(e, `recording the failure of job ${run.id}`);
    };

    if (err instanceof SnoozeSignal) {
      this.track(this.scripts.reschedule(k, { fence, delayMs: err.delayMs, giveAttemptBack: true, slot: run.slot })).then(done, onError);
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
    const stored = storedErrorJson(toStoredError(err, run.attempt));
    this.track(this.scripts.reschedule(k, { fence, delayMs, errorJson: stored, giveAttemptBack: false, slot: run.slot })).then((ok) => {
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
    this.track(this.scripts.dead(k, { id: ref.id, attempt, infoJson: deadInfoJson(info), maxDead: this.maxDead, fallbackEnvelope: raw, lock, slot })).then(
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

  /**
   * Records the end of a run given up locally (its lease could not be renewed in time): hands the job back to the
   * front of its queue with its attempt given back, fenced, so only if the lease is still ours (a slow Redis, a
   * stalled process); if another worker took it over, nothing changes. Whatever the handler returns later is ignored.
   */
  private giveUp(run: JobRun): void {
    if (run.state !== 'expired') return;
    this.givingUp.delete(run);
    clearRunTimer(run);
    if (this.stalledRuns.delete(run)) {
      // The attempt counts (retry after backoff, or the dead letters after the last one), fenced like any failure.
      run.state = 'running';
      this.fail(
        run,
        new LeaseExpiredError(
          `attempt ${run.attempt} of job ${run.id} was given up: this process stalled past the lease's local deadline (a handler blocking the event loop?)`,
        ),
      );
      this.notifyGiveUp();
      return;
    }
    const what = `job ${run.id} (${run.job.name})`;
    void this.handBack([run], (handedBack) =>
      this.logger.info(
        handedBack > 0
          ? `${what}, given up when its lease could not be renewed in time, was handed back with its attempt given back`
          : `${what} was given up after its lease was taken over; nothing was recorded`,
        { queue: run.queue },
      ),
    );
    this.notifyGiveUp();
  }

  private notifyGiveUp(): void {
    const waiters = this.giveUpWaiters;
    this.giveUpWaiters = [];
    for (const w of waiters) w();
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
    const graceEnd = performance.now() + this.shutdownTimeoutMs;
    // Past this, nothing waits for Redis any more: close() resolves whatever Redis does.
    const cutoff = graceEnd + SHUTDOWN_REDIS_MS;
    this.recovery.stop();
    const cronStopped = this.cron?.stop().catch(() => {});
    // Stop fetching (blocked reads are ended, loops finish their current call), then hand back at once the jobs
    // leased ahead but never started. This runs beside the wait for handlers: a Redis that does not answer costs
    // the handlers none of their grace.
    const fetchingStopped = Promise.all([...this.fetchers.values()].map((f) => f.stop().catch(() => {}))).then(() =>
      this.handBack(this.buffer.splice(0)),
    );
    const finished = await this.waitIdle(this.shutdownTimeoutMs);
    if (!finished) {
      const stillRunning: JobRun[] = [];
      for (const held of this.held.values()) for (const run of held.values()) if (run.state === 'running') stillRunning.push(run);
      this.logger.warn(
        `shutdown: ${stillRunning.length} job(s) still running after ${this.shutdownTimeoutMs} ms; aborting them; each is handed back once its handler stops`,
      );
      for (const run of stillRunning) {
        // Handed back (giveUp) when its handler settles, not before: another worker may start it at once then.
        run.state = 'expired';
        clearRunTimer(run);
        this.givingUp.add(run);
        abortRun(run, new ShutdownError('the worker is shutting down'));
      }
    }
    const drained = await settleBy(
      Promise.all([cronStopped, fetchingStopped]).then(() => this.drain()),
      cutoff,
    );
    this.renewal.stop();
    this.removeSignalHandlers?.();
    const stopping = [...this.givingUp];
    // Handlers that ignored their abort until now keep their job: it comes back through lease expiry, not sooner.
    for (const run of stopping) {
      run.state = 'lost';
      clearRunTimer(run);
    }
    this.givingUp.clear();
    const left = new Set([...this.unreturned, ...stopping]);
    for (const held of this.held.values()) for (const run of held.values()) left.add(run);
    if (left.size > 0) {
      const why =
        stopping.length > 0
          ? ` (${stopping.length} aborted handler(s) had not stopped within ${this.shutdownTimeoutMs + SHUTDOWN_REDIS_MS} ms)`
          : drained
            ? ''
            : ` (Redis did not answer within ${this.shutdownTimeoutMs + SHUTDOWN_REDIS_MS} ms)`;
      this.logger.warn(
        `shutdown: ${left.size} job(s) could not be handed back or recorded${why}; ` +
          `they run again once their lease expires (within leaseMs, ${this.leaseMs} ms, plus the recovery interval): ${nameRuns(left)}`,
      );
    }
    // Cut off: connections are dropped without a goodbye (QUIT would wait on a dead link too).
    await Promise.all([...this.fetchers.values()].map((f) => f.closeConnection()));
    await release(this.conn, drained ? Math.min(1_000, Math.max(0, cutoff - performance.now())) : 0);
  }

  /** Waits until completions, hand-backs and failures are recorded in Redis. */
  private async drain(): Promise<void> {
    await Promise.all([...this.fetchers.values()].map((f) => f.flushAcks()));
    // Aborted handlers still stopping are handed back as they settle (until close()'s cutoff).
    while (this.pending.size > 0 || this.givingUp.size > 0) {
      if (this.pending.size > 0) await Promise.allSettled([...this.pending]);
      else await new Promise<void>((resolve) => this.giveUpWaiters.push(resolve));
    }
  }

  /**
   * Hands leased jobs back to the front of their queue, giving back their attempt (fenced: only those still ours).
   * Until Redis confirms, they count as not handed back. `onRecorded` gets how many of a queue's were still ours.
   */
  private handBack(runs: readonly JobRun[], onRecorded?: (handedBack: number) => void): Promise<void> {
    const byQueue = new Map<string, JobRun[]>();
    for (const run of runs) {
      run.state = 'released';
      // Its timeout no longer matters, and would keep the process alive.
      clearRunTimer(run);
      const held = this.held.get(run.queue);
      if (held?.get(run.id) === run) held.delete(run.id);
      this.unreturned.add(run);
      let list = byQueue.get(run.queue);
      if (list === undefined) byQueue.set(run.queue, (list = []));
      list.push(run);
    }
    return Promise.all(
      [...byQueue].map(([queue, list]) =>
        this.track(
          this.scripts.release(this.keys.get(queue) as QueueKeys, {
            types: this.typesOf(queue),
            jobs: list.map((r) => ({ id: r.id, attempt: r.attempt, priority: r.envelope.r ?? 0, type: r.typeIndex })),
          }),
        ).then(
          (handedBack) => {
            for (const r of list) this.unreturned.delete(r);
            onRecorded?.(handedBack);
          },
          (e: unknown) => {
            // Outside shutdown nobody asks: the job comes back through lease expiry.
            if (!this.stopping) for (const r of list) this.unreturned.delete(r);
            this.reportError(e, `handing ${list.length} job(s) back to queue "${queue}"`);
          },
        ),
      ),
    ).then(() => {});
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
