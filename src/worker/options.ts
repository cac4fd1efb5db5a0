/**
 * The options of {@link createWorker}: their public type, and their checking and defaults in one function that
 * throws on a bad value (before any connection is made).
 */
import type { JobSet } from '../define.js';
import { groupDigits, toMs, type Duration } from '../durations.js';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_PREFIX, PREFIX_PATTERN } from '../keys.js';
import type { Logger } from '../logger.js';
import { DEFAULT_WORKER_MAX_PAYLOAD_BYTES } from '../payload.js';
import { DEFAULT_MAX_DEAD, ENVELOPE_OVERHEAD_BYTES } from '../bounds.js';
import type { RedisConfig } from '../redis.js';
import type { Metrics } from '../metrics.js';
import type { Handler, Middleware } from './job-run.js';
import { leaseMarginMs, renewalIntervalMs } from './lease-renewal.js';
import { MAX_SLOTS } from './slots.js';
import { HEARTBEAT_MS } from './heartbeat.js';

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
  /** Prometheus metrics to record this worker's jobs in (see `createMetrics`). Default: none. */
  readonly metrics?: Metrics;
  /**
   * OpenTelemetry spans around each attempt, continuing the producer's trace. Default: on when `@opentelemetry/api`
   * is installed and a tracer provider is registered when the worker is created; `false` turns it off.
   */
  readonly tracing?: boolean;
  /**
   * This process's name in the worker registry (`inspector.workers()`, `jobcraft workers`): any text up to 200
   * characters. Default `<host>:<pid>`.
   */
  readonly name?: string;
  /**
   * How often the worker writes its registry entry, in ms (at least 100). The entry of a process that stops beating
   * disappears 3 intervals after its last beat. Default 5 000.
   */
  readonly heartbeatMs?: number;
}

/** The longest lease (24 h): its timers must stay within setTimeout's limit (2^31 − 1 ms, about 24.8 days). */
export const MAX_LEASE_MS = 86_400_000;

/** A worker's options checked, with their defaults filled in (what the worker's parts are built from). */
export interface ResolvedWorkerOptions {
  readonly prefix: string;
  readonly concurrency: number;
  /** Fixed prefetch, or undefined for automatic. */
  readonly prefetch: number | undefined;
  readonly leaseMs: number;
  /** How long before a lease can expire in Redis this worker gives it up when it could not renew it. */
  readonly leaseMarginMs: number;
  /** A job leased ahead starts only with at least this much of its local lease left (one renewal interval + half the margin). */
  readonly startLeaseMs: number;
  readonly shutdownTimeoutMs: number;
  readonly keepCount: number;
  readonly keepAgeMs: number;
  readonly maxDead: number;
  /** Largest stored job (envelope) parsed: `maxPayloadBytes` + the envelope's own fields. */
  readonly maxEnvelopeBytes: number;
  /** Queues served, without repeats, in the order given. */
  readonly queues: readonly string[];
  readonly strictOrder: boolean;
  readonly weights: ReadonlyMap<string, number>;
  readonly middleware: readonly Middleware[];
  /** The registry name, if set. */
  readonly name: string | undefined;
  readonly heartbeatMs: number;
}

function positiveInt(value: number | undefined, fallback: number, what: string, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError('createWorker', what, `${what} must be an integer of at least ${min}, got ${String(v)}`);
  return v;
}

/** Checks a worker's options and handlers against its job set, and fills in the defaults. Throws on the first problem. */
export function resolveWorkerOptions(
  jobs: JobSet,
  handlers: Readonly<Record<string, Handler<unknown>>>,
  options: WorkerOptions,
): ResolvedWorkerOptions {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) throw new InvalidArgumentError('createWorker', 'prefix', `prefix ${JSON.stringify(prefix)} may only hold letters, digits and _ - . : (1 to 64 characters)`);
  const concurrency = positiveInt(options.concurrency, 10, 'concurrency');
  const prefetch = options.prefetch === undefined ? undefined : positiveInt(options.prefetch, 0, 'prefetch', 0);
  if (concurrency + (prefetch ?? concurrency) > MAX_SLOTS) {
    throw new InvalidArgumentError('createWorker', 'prefetch', `concurrency + prefetch must not exceed ${groupDigits(MAX_SLOTS)}`);
  }
  const leaseMs = positiveInt(options.leaseMs, 30_000, 'leaseMs', 100);
  if (leaseMs > MAX_LEASE_MS) {
    throw new InvalidArgumentError('createWorker', 'leaseMs', `leaseMs must be at most ${MAX_LEASE_MS} (24 h; the worker's timers cannot count longer), got ${leaseMs}`);
  }
  const margin = leaseMarginMs(leaseMs);
  const shutdownTimeoutMs = positiveInt(options.shutdownTimeoutMs, 10_000, 'shutdownTimeoutMs', 0);
  const keepCount = positiveInt(options.keepCompleted?.count, 1_000, 'keepCompleted.count', 0);
  const keepAgeMs = toMs(options.keepCompleted?.age ?? '1h', 'createWorker', 'keepCompleted.age');
  const maxDead = positiveInt(options.deadLetters?.max, DEFAULT_MAX_DEAD, 'deadLetters.max');
  const maxEnvelopeBytes = positiveInt(options.maxPayloadBytes, DEFAULT_WORKER_MAX_PAYLOAD_BYTES, 'maxPayloadBytes') + ENVELOPE_OVERHEAD_BYTES;

  const known: readonly string[] = jobs.queues;
  const asked: readonly string[] = options.queues ?? known;
  if (asked.length === 0) throw new InvalidArgumentError('createWorker', 'queues', 'queues is empty; name at least one queue to serve');
  for (const q of asked) {
    if (!known.includes(q)) throw new InvalidArgumentError('createWorker', 'queues', `queue ${JSON.stringify(q)} has no jobs (queues: ${known.join(', ')})`);
  }
  const queues = [...new Set(asked)];
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0 || options.name.length > 200)) {
    throw new InvalidArgumentError('createWorker', 'name', `name must be a string of 1 to 200 characters, got ${JSON.stringify(options.name)}`);
  }
  const heartbeatMs = positiveInt(options.heartbeatMs, HEARTBEAT_MS, 'heartbeatMs', 100);
  const strictOrder = options.queueOrder === 'strict';
  if (options.queueOrder !== undefined && options.queueOrder !== 'strict' && options.queueOrder !== 'weighted') {
    throw new InvalidArgumentError('createWorker', 'queueOrder', `queueOrder must be "weighted" or "strict", got ${JSON.stringify(options.queueOrder)}`);
  }
  const weights = new Map<string, number>();
  for (const [q, w] of Object.entries(options.queueWeights ?? {})) {
    if (!queues.includes(q)) throw new InvalidArgumentError('createWorker', 'queueWeights', `queueWeights names queue ${JSON.stringify(q)}, which this worker does not serve`);
    if (typeof w !== 'number' || !(w > 0) || !Number.isFinite(w)) throw new InvalidArgumentError('createWorker', `queueWeights.${q}`, `queueWeights.${q} must be a positive number, got ${String(w)}`);
    weights.set(q, w);
  }
  for (const [name, job] of jobs.jobs) {
    const handler = handlers[name];
    if (queues.includes(job.queue) && typeof handler !== 'function') {
      throw new InvalidArgumentError('createWorker', 'handlers', `no handler for job "${name}" (queue "${job.queue}" is served by this worker)`);
    }
  }
  for (const name of Object.keys(handlers)) {
    if (!jobs.jobs.has(name)) throw new InvalidArgumentError('createWorker', 'handlers', `handler "${name}" matches no declared job`);
  }
  return {
    prefix,
    concurrency,
    prefetch,
    leaseMs,
    leaseMarginMs: margin,
    startLeaseMs: renewalIntervalMs(leaseMs) + Math.floor(margin / 2),
    shutdownTimeoutMs,
    keepCount,
    keepAgeMs,
    maxDead,
    maxEnvelopeBytes,
    queues,
    strictOrder,
    weights,
    middleware: options.middleware ?? [],
    name: options.name,
    heartbeatMs,
  };
}
