import {
  checkAttempts,
  checkPriority,
  jobNamed,
  type JobName,
  type JobSet,
  type JobsWithResult,
  type PayloadInput,
  type ResolvedJob,
  type ResultOutput,
  type ResultSchemaOf,
} from './define.js';
import type * as z from 'zod';
import { ResultWaiters, type ResultWaitOptions } from './result-wait.js';
import { describe, toMs, type Duration } from './durations.js';
import { EnqueueUnconfirmedError, InvalidArgumentError, JobValidationError, RedisOutOfMemoryError, RedisUnavailableError } from './errors.js';
import { ConnectionHealth, isAuthFailure } from './connection-health.js';
import { resolveLogger, type Logger } from './logger.js';
import { runStartupChecks } from './preflight.js';
import { Cluster, ReplyError } from 'ioredis';
import { DEFAULT_PREFIX, PREFIX_PATTERN, generatedIdPrefix, queueKeys, queueOfGeneratedId, readySetOf, type QueueKeys } from './keys.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, decodeEnvelope, encodeEnvelope, serializePayload } from './payload.js';
import { connect, describeConnection, release, type OwnedConnection, type RedisConfig } from './redis.js';
import { ENQUEUE_NOW, RESULT_NOW, Scripts, toLibraryError, VARIABLE_KEY_COMMANDS } from './scripts.js';
import { QueueDeadLetters, type DeadLetter } from './dead-letters.js';
import { withTimeout } from './timeout.js';
import { upcastStoredPayload } from './stored-payload.js';
import { emitPayloadJob } from './versions.js';
import { uniqueKeyOf } from './unique.js';
import { throttledTypes, type ThrottledType } from './throttle.js';
import { joinEnqueueHooks } from './instrument.js';
import { metricsAttachments, type Metrics } from './metrics.js';
import { tracingEnqueueHooks } from './tracing.js';
import { registerQueues } from './registry.js';
import { jobInfoFrom, type JobInfo } from './job-info.js';
import { cancelTargets, recordCancelledChild, type CancelHandoff } from './cancel.js';
import { chainBuilder, chainOf, type ChainBuilder, type ChainOf } from './chain-client.js';
import { enqueueFanIn, type AnyFanInOptions, type EnqueuedFanIn, type FanInField, type FanInOptions } from './fan-in-client.js';
import type { ChildFailurePolicy } from './fan-in.js';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Where Redis is. Default `REDIS_URL`, else `redis://127.0.0.1:6379`. */
  readonly redis?: RedisConfig;
  /** Prefix of every key. Default `"jobcraft"`. Clients and workers must agree on it. */
  readonly prefix?: string;
  /** Largest payload accepted, in bytes of JSON. Default 512 KiB. */
  readonly maxPayloadBytes?: number;
  /**
   * Longest any call waits for Redis before failing with `RedisUnavailableError`. Default `5s`; `0` waits forever.
   */
  readonly timeout?: Duration;
  /**
   * Where the client warns: Redis unreachable (with the cause, at most every 30 s), an evicting `maxmemory-policy`,
   * missing ACL permissions (once, at start). Default: the console. `false` logs nothing.
   */
  readonly logger?: Logger | false;
  /** Prometheus metrics to count this client's enqueues and refusals in (see `createMetrics`). Default: none. */
  readonly metrics?: Metrics;
  /**
   * An OpenTelemetry PRODUCER span around each enqueue call, its context stored in the jobs. Default: on when
   * `@opentelemetry/api` is installed and a tracer provider is registered when the client is created; `false` turns it off.
   */
  readonly tracing?: boolean;
}

/** Options of one enqueue call. */
export interface EnqueueOptions {
  /** Run no earlier than this long from now. */
  readonly delay?: Duration;
  /** Run no earlier than this time (a `Date` or ms since the epoch). Not together with `delay`. */
  readonly runAt?: Date | number;
  /** Overrides the job type's priority (integer from -1000 to 1000, higher first). */
  readonly priority?: number;
  /** Overrides the job type's total attempts. */
  readonly attempts?: number;
  /**
   * An idempotency key used as the job's id: while a job with this id is known to the queue (waiting, scheduled,
   * running, retrying, dead, or completed within the retention window), another enqueue with it writes nothing and
   * returns `{ id, duplicate: true }`. Up to 256 characters; must not contain `#` (it marks generated ids).
   */
  readonly jobId?: string;
}

/** Options of `enqueueMany`: the same as {@link EnqueueOptions} for every job, with per-job ids. */
export interface EnqueueManyOptions extends Omit<EnqueueOptions, 'jobId'> {
  /** One idempotency key per payload (see {@link EnqueueOptions.jobId}). */
  readonly jobIds?: readonly string[];
}

/** What an enqueue returns. */
export interface EnqueueResult {
  /** The job's id: the `jobId` you gave, or a generated `<queue>#<sequence>`. */
  readonly id: string;
  /** True when a job with this `jobId` already existed and nothing was written. */
  readonly duplicate: boolean;
}

/**
 * A job whose type declares a `result` schema, by its id: `result()` waits for its result (docs/results.md). Returned
 * by `enqueue`/`enqueueMany` for such jobs, and by `client.job(name, id)` — in any process with the job declarations.
 */
export interface JobHandle<R = unknown> {
  /** The job's id. */
  readonly id: string;
  /** The job's name (type). */
  readonly name: string;
  /**
   * The job's result, parsed by its result schema (the output type). Rejects with a `ResultWaitError`:
   * `JobDeadError` (with its last error), `JobCancelledError`, `JobNotFoundError` (removed or never enqueued),
   * `ResultExpiredError`, `ResultTimeoutError` (the job goes on) or `ResultWaitAbortedError`; or `ResultUnreadableError`
   * when the stored result no longer fits the schema; `InvalidArgumentError` for a bad `timeout`; the error itself
   * when Redis refuses the read for good (a key of the wrong type, an ACL denial). Never hangs on a job that is gone:
   * see docs/results.md.
   */
  result(options?: ResultWaitOptions): Promise<R>;
}

/** What enqueuing job `N` returns: for a job with a `result` schema, its {@link JobHandle} too. */
export type EnqueueResultFor<J extends JobSet, N extends JobName<J>> = [ResultSchemaOf<J['definitions'], N>] extends [z.core.$ZodType]
  ? EnqueueResult & JobHandle<ResultOutput<J, N>>
  : EnqueueResult;

export type { ResultWaitOptions } from './result-wait.js';
export type { JobInfo, JobState } from './job-info.js';

/** The dead letters of every queue of a job set. */
export interface DeadLetters<Q extends string = string> {
  /** The dead-letter API of one queue. */
  queue(queue: Q): QueueDeadLetters;
  /** Dead letters of a queue, newest first. */
  list(queue: Q, options?: { offset?: number; limit?: number }): Promise<DeadLetter[]>;
  /** How many dead letters a queue holds. */
  count(queue: Q): Promise<number>;
  /** Puts one dead letter back in its queue with fresh attempts; false if there was no such dead letter. */
  retry(id: string, queue?: Q): Promise<boolean>;
  /** Puts every dead letter of a queue back. Returns how many. */
  retryAll(queue: Q): Promise<number>;
  /** Deletes one dead letter; false if there was none. */
  delete(id: string, queue?: Q): Promise<boolean>;
  /** Deletes all dead letters of a queue. Returns how many there were. */
  purge(queue: Q): Promise<number>;
}

/** A delayed or retrying job, as `scheduled()` lists it. */
export interface ScheduledJob {
  readonly id: string;
  readonly queue: string;
  /** Job name (undefined when the stored job is unreadable). */
  readonly name: string | undefined;
  readonly payload: unknown;
  /** `delayed` (never started) or `retrying` (failed before, waiting for its next attempt). */
  readonly state: 'delayed' | 'retrying';
  /** When it becomes ready. */
  readonly runAt: Date;
  /** Attempts started so far. */
  readonly attempts: number;
}

/** A typed producer for a job set: created by {@link createClient}. */
export interface JobClient<J extends JobSet> {
  /**
   * Validates `payload` against the job's schema and adds the job to its queue. Throws `JobValidationError`
   * (nothing written) when the payload fails the schema, cannot be stored as JSON or is too large.
   */
  enqueue<N extends JobName<J>>(name: N, payload: PayloadInput<J, N>, options?: EnqueueOptions): Promise<EnqueueResultFor<J, N>>;
  /** Validates every payload first (all or nothing), then adds them all in one round trip. */
  enqueueMany<N extends JobName<J>>(
    name: N,
    payloads: readonly PayloadInput<J, N>[],
    options?: EnqueueManyOptions,
  ): Promise<EnqueueResultFor<J, N>[]>;
  /**
   * The handle of job `id` of type `name` (one that declares a `result` schema), to wait for its result from any
   * process — another service included. Nothing is read until `result()` is called.
   */
  job<N extends JobsWithResult<J>>(name: N, id: string): JobHandle<ResultOutput<J, N>>;
  /**
   * Starts a chain (docs/results.md, "Chains"): job `name` with `payload`, then each step added by `.next(job)`, whose
   * payload is the previous step's result. `.enqueue()` writes it in one call. `options` apply to the first step
   * (`jobId` names the chain and makes it idempotent).
   */
  chain<N extends JobName<J>>(name: N, payload: PayloadInput<J, N>, options?: EnqueueOptions): ChainBuilder<J, N>;
  /**
   * The handle of a chain enqueued elsewhere (another service), from its id and its steps' job names in order: its
   * `result()` waits through the steps like the handle `chain(…).enqueue()` returns (a later step that does not exist
   * yet is waited for; an earlier step's death rejects with `ChainBrokenError`). The last step must declare a result.
   */
  chainOf<Last extends JobsWithResult<J>>(id: string, steps: readonly [...JobsWithResult<J>[], Last]): ChainOf<ResultOutput<J, Last>>;
  /**
   * Starts a fan-in (docs/results.md, "Fan-in"): the children (`options.children` with `options.payloads`) run, then
   * the parent job `name` runs with its payload field `options.into` holding their results, in child order. One call
   * writes the fan-in; the children are created then (or by a worker's sweep). Only a field whose type accepts the
   * children's result output compiles.
   */
  fanIn<N extends JobName<J>, C extends JobsWithResult<J>, F extends FanInField<J, N, C, P>, P extends ChildFailurePolicy = 'fail'>(
    name: N,
    payload: Omit<PayloadInput<J, N>, F>,
    options: FanInOptions<J, C, F, P>,
  ): Promise<EnqueuedFanIn<J, N>>;
  /** A job's state, attempts and last error. Searches the job set's queues unless the id names its queue. */
  getJob(id: string): Promise<JobInfo>;
  /**
   * Cancels a job that has not started: waiting, delayed or retrying. Returns `cancelled`, `active` (it is running;
   * nothing changed) or `unknown` (no live job has this id).
   */
  cancel(id: string): Promise<'cancelled' | 'active' | 'unknown'>;
  /** Delayed and retrying jobs of a queue, soonest first. */
  scheduled(queue: J['queues'][number], options?: { offset?: number; limit?: number }): Promise<ScheduledJob[]>;
  /** Pauses a queue: every worker stops leasing its jobs at once (jobs already leased still run). Persisted in Redis. */
  pause(queue: J['queues'][number]): Promise<void>;
  /** Resumes a paused queue; false if it was not paused. */
  resume(queue: J['queues'][number]): Promise<boolean>;
  /** Whether a queue is paused. */
  isPaused(queue: J['queues'][number]): Promise<boolean>;
  /** Dead-letter management. */
  readonly deadLetters: DeadLetters<J['queues'][number]>;
  /** The Redis connection in use. */
  readonly redis: OwnedConnection['redis'];
  /** Ends the waits for results (rejected with `ResultWaitAbortedError`), closes their subscriber connection, and the connection if the client opened it. */
  close(): Promise<void>;
}

const JOB_ID_MAX = 256;

function checkJobId(id: unknown, job: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > JOB_ID_MAX) {
    throw new InvalidArgumentError(`enqueue "${job}"`, 'jobId', `jobId must be a non-empty string of at most ${JOB_ID_MAX} characters, got ${describe(id)}`);
  }
  if (id.includes('#')) throw new InvalidArgumentError(`enqueue "${job}"`, 'jobId', `jobId ${JSON.stringify(id)} must not contain "#" (it marks generated ids)`);
  return id;
}

function resolveDelay(job: string, options: EnqueueOptions | EnqueueManyOptions): number {
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new InvalidArgumentError(`enqueue "${job}"`, 'delay', `give either delay or runAt, not both`);
  }
  if (options.delay !== undefined) return toMs(options.delay, `enqueue "${job}"`, 'delay');
  if (options.runAt !== undefined) {
    const at = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new InvalidArgumentError(`enqueue "${job}"`, 'runAt', `runAt must be a Date or ms since the epoch`);
    return Math.max(0, Math.round(at - Date.now()));
  }
  return 0;
}

/**
 * A payload written with an earlier version (`emitVersion`), migrated to the current version as a worker will read
 * it: a unique key is made of the current version's output (as `unique.by` is typed), so producers pinned to an
 * earlier version and the others agree on it. A migration that fails is refused here, before anything is written.
 */
function upcastForUnique(job: ResolvedJob, text: string, index: number | undefined): unknown {
  const read = upcastStoredPayload(job, { p: JSON.parse(text) as unknown, v: job.emitVersion });
  if (!read.success) throw new JobValidationError(job.name, read.issues, 'enqueue', index);
  return read.data;
}

/**
 * Errors a Redis Cluster answers while a slot moves or a node restarts — as a reply, or as ioredis's "Too many Cluster
 * redirections" after it followed them for a while: the command did not run, so a retry is safe.
 */
const TRANSIENT = /^(Too many Cluster redirections\. Last error: ReplyError: )?(TRYAGAIN|NOSCRIPT|ASK|MOVED|CLUSTERDOWN|LOADING)\b/;
/** Waits between retries of a transient refusal: growing to 500 ms, then 500 ms each until the call's deadline. */
const TRANSIENT_RETRIES = [25, 50, 100, 200, 300, 400, 500];
/** Retries made when the client has no `timeout` (0): 16 tries over about 5 s. */
const UNBOUNDED_TRIES = 16;

/** Redis refused a call with a transient error every time it was tried: nothing was written. */
class StillRefused extends RedisUnavailableError {}

/**
 * Runs `call`, again after a short wait while Redis refuses it with a transient cluster error. No attempt starts
 * after `deadline` (ms, `performance.now()` clock; Infinity when the client has no timeout): when the next one would,
 * it gives up with StillRefused, so nothing runs behind the back of a caller who already got an error.
 */
async function retryTransient<T>(call: () => Promise<T>, what: string, where: string, deadline: number, cluster: boolean): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (err) {
      const message = (err as Error).message;
      if (!TRANSIENT.test(message)) throw err;
      // Only a Cluster node redirects: a plain connection that gets MOVED or ASK points at a Cluster by mistake.
      if (!cluster && /^(MOVED|ASK)\b/.test(message)) {
        throw new RedisUnavailableError(`${what}: Redis at ${where} is a Redis Cluster node (it answered "${message}"): connect with { cluster: [nodes] }; nothing was written`, { cause: err });
      }
      const wait = TRANSIENT_RETRIES[Math.min(i, TRANSIENT_RETRIES.length - 1)] as number;
      const late = deadline === Infinity ? i + 1 >= UNBOUNDED_TRIES : performance.now() + wait >= deadline;
      if (late) {
        throw new StillRefused(`${what}: Redis at ${where} refused it ${i + 1} times with "${message}" (a slot moving or a node starting); it did not run, so nothing was written`, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * Creates a typed client that enqueues jobs of `jobs` and reads their state.
 *
 * @example
 * const client = createClient(jobs, { redis: process.env.REDIS_URL });
 * await client.enqueue('sendWelcomeEmail', { userId: 'u1', email: 'a@example.com' });
 */
export function createClient<J extends JobSet>(jobs: J, options: ClientOptions = {}): JobClient<J> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) throw new InvalidArgumentError('createClient', 'prefix', `prefix ${JSON.stringify(prefix)} may only hold letters, digits and _ - . : (1 to 64 characters)`);
  const maxBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const timeoutMs = options.timeout === undefined ? 5_000 : toMs(options.timeout, 'createClient', 'timeout');
  const conn = connect(options.redis, 'client', [ENQUEUE_NOW, RESULT_NOW], VARIABLE_KEY_COMMANDS);
  const scripts = new Scripts(conn.redis);
  const where = describeConnection(conn.redis);
  const keysByQueue = new Map<string, QueueKeys>(jobs.queues.map((q) => [q, queueKeys(prefix, q)]));
  const typesByQueue = new Map<string, ThrottledType[]>([...keysByQueue].map(([q, k]) => [q, throttledTypes(jobs, k)]));
  const keysOf = (queue: string): QueueKeys => {
    const k = keysByQueue.get(queue);
    if (k === undefined) throw new InvalidArgumentError('jobcraft client', 'queue', `unknown queue ${JSON.stringify(queue)} (queues: ${jobs.queues.join(', ')})`);
    return k;
  };
  const jobOf = (name: string): ResolvedJob => {
    const job = jobs.jobs.get(name);
    if (job === undefined) throw new InvalidArgumentError('jobcraft client', 'job', `unknown job ${JSON.stringify(name)} (declared: ${[...jobs.jobs.keys()].join(', ')})`);
    return job;
  };
  const logger = resolveLogger(options.logger);
  // Connection failures are logged with their cause (rate-limited) and named in the errors of the calls they fail.
  const health = new ConnectionHealth(logger, where);
  if (conn.owned) health.watch(conn.redis);
  let everReady = conn.redis.status === 'ready';
  if (!everReady) conn.redis.once('ready', () => (everReady = true));
  // Eviction policy and ACL permissions, checked once in the background: a client only warns.
  const sampleKeys = [...keysByQueue.values()].map((k) => k.jobs);
  runStartupChecks(conn.redis, { role: 'client', sampleKeys, where, allowEvicting: true, logger }).catch((err: unknown) =>
    logger.debug(`the startup checks of Redis at ${where} did not run: ${(err as Error)?.message ?? String(err)}`),
  );
  const unreachable = (what: string, err: unknown): RedisUnavailableError =>
    new RedisUnavailableError(`${what}: Redis at ${where} is unreachable: ${health.cause ?? (err as Error).message}`, { cause: err });
  /** Bounds a call by the client's timeout; a call given as a function is retried on transient cluster refusals. */
  const deadline = (): number => (timeoutMs > 0 ? performance.now() + timeoutMs : Infinity);
  const isCluster = conn.redis instanceof Cluster;
  /** Redis refused the credentials (at connect): no command ran, and the cause is the configuration, not the call. */
  const authFailure = (err: unknown, what: string): RedisUnavailableError | undefined =>
    err instanceof ReplyError && isAuthFailure((err as Error).message)
      ? new RedisUnavailableError(`${what}: Redis at ${where} refused the connection: authentication failed: ${(err as Error).message} (check the user name and password); nothing was written`, { cause: err })
      : undefined;
  /** One call within the client's timeout, retried inside while Redis refuses it with a transient cluster error. */
  const attempt = <T>(call: () => Promise<T>, what: string): Promise<T> =>
    withTimeout(retryTransient(call, what, where, deadline(), isCluster), timeoutMs, what, where);
  const limit = <T>(call: () => Promise<T>, what: string): Promise<T> =>
    attempt(call, what).catch((err: unknown) => {
      const auth = authFailure(err, what);
      if (auth !== undefined) throw auth;
      // A reply error is Redis answering (a script error, a wrong key type); anything else means it could not be reached.
      if (err instanceof ReplyError) throw toLibraryError(err, what);
      if (err instanceof RedisUnavailableError) throw err;
      throw unreachable(what, err);
    });
  /**
   * Like `limit`, for calls that write jobs: a failure without an answer from Redis, once the connection had been up,
   * leaves it unknown whether the jobs were written (see EnqueueUnconfirmedError). Transient cluster refusals (a slot
   * being moved) are retried inside.
   */
  const limitEnqueue = <T>(call: () => Promise<T>, what: string, jobIds: readonly string[] | undefined, unique = false): Promise<T> =>
    attempt(call, what).catch((err: unknown) => {
      const auth = authFailure(err, what);
      if (auth !== undefined) throw auth;
      // Answers and definite refusals (Redis refused the whole call, nothing was written) are not ambiguous.
      if (err instanceof ReplyError || err instanceof StillRefused || err instanceof RedisOutOfMemoryError) throw err;
      if (!everReady && !(err instanceof RedisUnavailableError)) throw unreachable(`${what} (nothing was written)`, err);
      // A time-out before the connection ever came up: say so, with what the connection attempts reported.
      const notConnected = !everReady
        ? `; the client has not connected to it yet: ${health.cause ?? 'no error so far (a slow network, or a TLS handshake the server does not answer?)'}`
        : '';
      const cause = err instanceof RedisUnavailableError ? `${err.message}${notConnected}` : unreachable(what, err).message;
      const retry =
        jobIds === undefined && unique
          ? 'this call had no jobId, but its job type is unique: a retry while the first copy holds the unique lock (until it finishes, or starts, within the lock ttl) comes back as a duplicate; after that it may enqueue the job twice'
          : jobIds === undefined
          ? 'this call had no jobId, so retrying it may enqueue the job twice; give a jobId to make retries safe'
          : `retrying with the same jobId (${jobIds.slice(0, 3).map((id) => JSON.stringify(id)).join(', ')}${jobIds.length > 3 ? ', …' : ''}) is safe: a job that was written comes back as a duplicate`;
      throw new EnqueueUnconfirmedError(`${cause}. The job may or may not have been written: ${retry}`, jobIds, { cause: err });
    });

  async function add(
    name: string,
    payloads: readonly unknown[],
    opts: EnqueueManyOptions,
    ids: readonly string[] | undefined,
    many: boolean,
    traceContext?: string,
  ): Promise<EnqueueResult[]> {
    const job = jobOf(name);
    const delayMs = resolveDelay(name, opts);
    const priority = opts.priority ?? job.priority;
    const pp = checkPriority(priority);
    if (pp) throw new InvalidArgumentError(`enqueue "${name}"`, 'priority', `priority ${pp}`);
    if (opts.attempts !== undefined) {
      const ap = checkAttempts(opts.attempts);
      if (ap) throw new InvalidArgumentError(`enqueue "${name}"`, 'attempts', `attempts ${ap}`);
    }
    if (ids !== undefined && ids.length !== payloads.length) {
      throw new InvalidArgumentError(`enqueueMany "${name}"`, 'jobIds', `jobIds has ${ids.length} entries for ${payloads.length} payloads`);
    }
    const now = Date.now();
    const k = keysOf(job.queue);
    const items: string[] = [];
    const locks: string[] = [];
    const emit = emitPayloadJob(job);
    payloads.forEach((payload, i) => {
      const { text, parsed } = serializePayload(emit, payload, maxBytes, many ? i : undefined);
      const unique = job.unique === undefined ? undefined : uniqueKeyOf(job, emit === job ? parsed : upcastForUnique(job, text, many ? i : undefined));
      if (unique !== undefined) locks.push(k.uniquePrefix + unique);
      items.push(ids === undefined ? '' : checkJobId(ids[i], name), encodeEnvelope(name, now, text, opts.attempts, priority, unique, delayMs > 0 ? now + delayMs : undefined, traceContext, job.emitVersion));
    });
    if (items.length === 0) return [];
    registerOnce(job.queue);
    // Plain single enqueues made in the same turn of the event loop share one script call (one Redis round trip,
    // one script run) instead of one each: the common case of many concurrent producers' calls.
    if (!many && ids === undefined && delayMs === 0 && job.unique === undefined && job.throttle === undefined) {
      return [await coalesce(k, priority, items[1] as string, name)];
    }
    const unique = job.unique === undefined ? undefined : { ttlMs: job.unique.ttlMs, locks };
    const idPrefix = ids === undefined ? generatedIdPrefix(job.queue) : '';
    const readySet = readySetOf(k, job);
    return limitEnqueue(() => scripts.enqueue(k, { delayMs, priority, idPrefix, items, unique, readySet }), `enqueue "${name}"`, ids, unique !== undefined);
  }

  /** Queues this client has put in the queue registry (registry.ts): once per process and queue. */
  const registered = new Set<string>();
  function registerOnce(queue: string): void {
    if (registered.has(queue)) return;
    registered.add(queue);
    // On its own, not awaited: an enqueue never waits for it, and a failure only means the next enqueue tries again.
    registerQueues(conn.redis, jobs, prefix, [queue]).catch(() => registered.delete(queue));
  }

  interface Pending {
    readonly k: QueueKeys;
    readonly priority: number;
    readonly names: string[];
    readonly items: string[];
    readonly settle: { resolve: (r: EnqueueResult) => void; reject: (e: unknown) => void }[];
  }
  const pending = new Map<string, Pending>();
  let flushQueued = false;
  const MAX_COALESCED = 1_000;

  function coalesce(k: QueueKeys, priority: number, envelope: string, name: string): Promise<EnqueueResult> {
    return new Promise((resolve, reject) => {
      const key = `${k.queue}\u0000${priority}`;
      let batch = pending.get(key);
      if (batch === undefined) {
        batch = { k, priority, names: [], items: [], settle: [] };
        pending.set(key, batch);
      }
      batch.names.push(name);
      batch.items.push('', envelope);
      batch.settle.push({ resolve, reject });
      if (batch.settle.length >= MAX_COALESCED) {
        pending.delete(key);
        send(batch);
      } else if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    });
  }

  function flush(): void {
    flushQueued = false;
    const batches = [...pending.values()];
    pending.clear();
    for (const batch of batches) send(batch);
  }

  function send(batch: Pending): void {
    const what = batch.names.length === 1 ? `enqueue "${batch.names[0]}"` : `enqueue of ${batch.names.length} jobs ("${batch.names[0]}", …)`;
    limitEnqueue(() => scripts.enqueue(batch.k, { delayMs: 0, priority: batch.priority, idPrefix: generatedIdPrefix(batch.k.queue), items: batch.items, now: true }), what, undefined).then(
      (results) => batch.settle.forEach((s, i) => s.resolve(results[i] as EnqueueResult)),
      (err: unknown) => {
        for (const s of batch.settle) s.reject(err);
      },
    );
  }

  /** The queues a job with this id may be in: the one a generated id names, else every queue of the job set. */
  function queuesFor(id: string): readonly string[] {
    const hinted = queueOfGeneratedId(id);
    return hinted !== undefined && keysByQueue.has(hinted) ? [hinted] : jobs.queues;
  }

  /** The queue whose dead letters hold `id`. */
  async function deadQueueOf(id: string): Promise<string | undefined> {
    const queues = queuesFor(id);
    const found = await limit(() => Promise.all(queues.map((q) => conn.redis.hexists(keysOf(q).dead, id))), `deadLetters: finding ${JSON.stringify(id)}`);
    return queues[found.findIndex((n) => n === 1)];
  }

  async function getJob(id: string): Promise<JobInfo> {
    const queues = queuesFor(id);
    const states = await limit(() => Promise.all(queues.map((q) => scripts.get(keysOf(q), { id }))), `getJob ${JSON.stringify(id)}`);
    const i = states.findIndex((s) => s.state !== 'unknown');
    return jobInfoFrom(id, queues[i], states[i], (name) => jobNamed(jobs, name)?.attempts);
  }

  async function cancel(id: string): Promise<'cancelled' | 'active' | 'unknown'> {
    for (const q of queuesFor(id)) {
      const k = keysOf(q);
      const raw = await limit(() => conn.redis.hget(k.jobs, id), `cancel ${JSON.stringify(id)}`);
      const targets = cancelTargets(k, id, raw, (n) => jobNamed(jobs, n));
      const result = await limit(() => scripts.cancel(k, { id, ...targets }), `cancel ${JSON.stringify(id)}`);
      if (result === 'cancelled' && targets.handoff !== undefined) await cancelledChild(targets.handoff, id);
      if (result !== 'unknown') return result;
    }
    return 'unknown';
  }

  /**
   * A cancelled fan-in child (docs/results.md, "Fan-in") counts as failed for its parent, which would otherwise wait
   * for it for ever: cancel.lua recorded its end in its queue's outbox with the cancel; it is handed to the parent now
   * (idempotent per child). Should that fail, the entry stays for the sweep of a worker serving the child's queue: the
   * cancel happened, so it is not an error of the cancel.
   */
  async function cancelledChild(handoff: CancelHandoff, id: string): Promise<void> {
    await limit(() => recordCancelledChild(scripts, prefix, handoff), `recording the cancel of fan-in child ${JSON.stringify(id)}`).catch((err: unknown) =>
      logger.warn(`fan-in child ${id} cancelled; recording it for its parent failed (${(err as Error).message}): a worker serving its queue does it`),
    );
  }

  async function scheduled(queue: string, o: { offset?: number; limit?: number } = {}): Promise<ScheduledJob[]> {
    const k = keysOf(queue);
    const offset = o.offset ?? 0;
    const count = o.limit ?? 50;
    if (count <= 0) return [];
    const flat = await limit(() => conn.redis.zrange(k.scheduled, offset, offset + count - 1, 'WITHSCORES'), `scheduled "${queue}"`);
    const ids = flat.filter((_, i) => i % 2 === 0);
    if (ids.length === 0) return [];
    const [raws, atts, errs] = await limit(
      () => Promise.all([conn.redis.hmget(k.jobs, ...ids), conn.redis.hmget(k.attempts, ...ids), conn.redis.hmget(k.errors, ...ids)]),
      `scheduled "${queue}"`,
    );
    return ids.map((id, i) => {
      const decoded = decodeEnvelope(raws[i] ?? null);
      return {
        id,
        queue,
        name: decoded.ok ? decoded.envelope.n : undefined,
        payload: decoded.ok ? decoded.envelope.p : undefined,
        state: errs[i] === null || errs[i] === undefined ? 'delayed' : 'retrying',
        runAt: new Date(Number(flat[i * 2 + 1])),
        attempts: Number(atts[i] ?? 0),
      };
    });
  }

  const perQueue = new Map<string, QueueDeadLetters>();
  const dlq = (queue: string): QueueDeadLetters => {
    let d = perQueue.get(queue);
    if (d === undefined) {
      d = new QueueDeadLetters(scripts, keysOf(queue), typesByQueue.get(queue) ?? [], (name) => jobNamed(jobs, name)?.unique?.ttlMs, limit);
      perQueue.set(queue, d);
    }
    return d;
  };
  const deadLetters: DeadLetters = {
    queue: dlq,
    list: (queue, o) => dlq(queue).list(o?.offset ?? 0, o?.limit ?? 50),
    count: (queue) => dlq(queue).count(),
    retry: async (id, queue) => {
      const q = queue ?? (await deadQueueOf(id));
      return q === undefined ? false : (await dlq(q).retry([id])).length === 1;
    },
    retryAll: (queue) => dlq(queue).retryAll(),
    delete: async (id, queue) => {
      const q = queue ?? (await deadQueueOf(id));
      return q === undefined ? false : (await dlq(q).delete([id])) === 1;
    },
    purge: (queue) => dlq(queue).purge(),
  };

  // Metrics and tracing (instrument.ts): decided once here; undefined when both are off.
  const hooks = joinEnqueueHooks([metricsAttachments(options.metrics, 'createClient')?.attachClient(jobs), tracingEnqueueHooks(options.tracing, jobs)]);

  // Waits for results (result-wait.ts): one subscriber connection, opened at the first wait.
  const waiters = new ResultWaiters({ scripts, redis: conn.redis, limit, logger });
  /** The handle of job `id` of type `job` (which declares a result). */
  const handleOf = (job: ResolvedJob, id: string): JobHandle => ({
    id,
    name: job.name,
    result: (o?: ResultWaitOptions) => waiters.wait(job, keysOf(job.queue), id, o),
  });
  /** An enqueue's answers, with the handle's `result` for a job type that declares one (others unchanged). */
  const withHandles = (name: string, results: EnqueueResult[]): EnqueueResult[] => {
    const job = jobOf(name);
    if (job.result === undefined) return results;
    return results.map((r) => ({ ...r, ...handleOf(job, r.id) }));
  };

  const stepDeps = {
    jobOf,
    keysOf,
    maxPayloadBytes: maxBytes,
    registerOnce,
    wait: (job: ResolvedJob, id: string, o: ResultWaitOptions) => waiters.wait(job, keysOf(job.queue), id, o),
    checkJobId,
  };
  const chainDeps = {
    ...stepDeps,
    write: async (job: ResolvedJob, id: string, envelope: string, delayMs: number, priority: number) => {
      const k = keysOf(job.queue);
      const [r] = await limitEnqueue(() => scripts.enqueue(k, { delayMs, priority, idPrefix: '', items: [id, envelope], readySet: readySetOf(k, job) }), `enqueue of a chain ("${job.name}", …)`, [id]);
      return r as EnqueueResult;
    },
    handoffPending: async (outbox: string, id: string) => (await limit(() => conn.redis.hexists(outbox, id), `reading the chain outbox ${outbox}`)) === 1,
    delayOf: resolveDelay,
  };

  const fanInDeps = {
    ...stepDeps,
    logger,
    create: (keys: Parameters<Scripts['faninCreate']>[0], input: Parameters<Scripts['faninCreate']>[1]) =>
      limitEnqueue(() => scripts.faninCreate(keys, input), `fanIn (parent ${JSON.stringify(input.parent)})`, [input.parent]),
    createChildren: async (job: ResolvedJob, items: readonly string[], outbox: string, ids: readonly string[]) => {
      const k = keysOf(job.queue);
      const readySet = readySetOf(k, job);
      for (let i = 0; i < items.length; i += 2_000) {
        await limit(() => scripts.enqueue(k, { delayMs: 0, priority: job.priority, idPrefix: '', items: items.slice(i, i + 2_000), readySet }), `creating the children of a fan-in ("${job.name}")`);
      }
      for (let i = 0; i < ids.length; i += 1_000) await limit(() => conn.redis.hdel(outbox, ...ids.slice(i, i + 1_000)), `clearing the hand-offs of a fan-in's children`);
    },
  };

  return {
    fanIn: (name, payload, opts) => enqueueFanIn(fanInDeps, name, payload, opts as unknown as AnyFanInOptions) as Promise<EnqueuedFanIn<J, typeof name>>,
    chain: (name, payload, opts = {}) => chainBuilder(chainDeps, [name], payload, opts) as unknown as ChainBuilder<J, typeof name>,
    chainOf: (id, steps) => chainOf(chainDeps, id, steps) as ChainOf<never>,
    enqueue: async (name, payload, opts = {}) => {
      const ids = opts.jobId === undefined ? undefined : [opts.jobId];
      const results = await (hooks === undefined ? add(name, [payload], opts, ids, false) : hooks.around(name, 1, (tc) => add(name, [payload], opts, ids, false, tc)));
      return withHandles(name, results)[0] as EnqueueResultFor<J, typeof name>;
    },
    enqueueMany: async (name, payloads, opts = {}) =>
      withHandles(
        name,
        await (hooks === undefined ? add(name, payloads, opts, opts.jobIds, true) : hooks.around(name, payloads.length, (tc) => add(name, payloads, opts, opts.jobIds, true, tc))),
      ) as EnqueueResultFor<J, typeof name>[],
    job: (name, id) => {
      const job = jobOf(name);
      if (job.result === undefined) throw new InvalidArgumentError('job', 'name', `job ${JSON.stringify(name)} declares no result schema, so there is no result to wait for`);
      if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError('job', 'id', `id must be a non-empty string, got ${describe(id)}`);
      return handleOf(job, id) as JobHandle<ResultOutput<J, typeof name>>;
    },
    getJob,
    cancel,
    scheduled,
    pause: async (queue) => {
      await limit(() => conn.redis.set(keysOf(queue).paused, '1'), `pause "${queue}"`);
    },
    resume: (queue) => limit(() => scripts.resume(keysOf(queue), { types: typesByQueue.get(queue) ?? [] }), `resume "${queue}"`),
    isPaused: async (queue) => (await limit(() => conn.redis.exists(keysOf(queue).paused), `isPaused "${queue}"`)) === 1,
    deadLetters,
    redis: conn.redis,
    close: async () => {
      await waiters.close();
      await release(conn);
    },
  };
}
