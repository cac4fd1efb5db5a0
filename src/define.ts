import type * as z from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { describe, parseDuration, type Duration } from './durations.js';
import { JobDefinitionError, JobValidationError } from './errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, serializePayload } from './payload.js';

/** How long to wait before the next attempt after a failure. */
export interface BackoffOptions {
  /**
   * `exponential` (default): `delay * 2^(attempt - 1)`, so 1 s, 2 s, 4 s … with the defaults.
   * `fixed`: always `delay`.
   */
  readonly type?: 'exponential' | 'fixed';
  /** Base delay. Default `1s`. */
  readonly delay?: Duration;
  /** Upper bound of any single delay. Default `1h`. */
  readonly maxDelay?: Duration;
  /**
   * Randomness, as a fraction of the delay that may be taken off (0 – 1): with `0.2` a 10 s delay becomes 8 – 10 s.
   * `true` means `0.2`, `false` means `0`. Default `0.2` for exponential, `0` for fixed. Jitter spreads out retries
   * of jobs that failed together so they do not hit a recovering dependency at the same instant.
   */
  readonly jitter?: boolean | number;
}

/** Options of a job type. Every option has a default; see `docs/configuration.md`. */
export interface JobOptions {
  /** The queue (a Redis list family) the job is stored in. Default `"default"`. */
  readonly queue?: string;
  /** Total tries, the first included. Default 5. Integer from 1 to 10,000. */
  readonly attempts?: number;
  /** Delay between attempts. Default exponential from 1 s, doubling, capped at 1 h, 20 % jitter. */
  readonly backoff?: BackoffOptions;
  /** Longest an attempt may run; the handler's signal aborts and the attempt fails with `TimeoutError`. Default none. */
  readonly timeout?: Duration;
  /** Higher runs first within a queue. Integer from -1000 to 1000. Default 0. */
  readonly priority?: number;
  /** A sentence about the job, shown in generated code and tools. */
  readonly description?: string;
  /**
   * Runs the job periodically: a cron expression with 5 fields (minute precision) or 6 (seconds first), parsed by
   * cron-parser, e.g. `"0 3 * * *"` (03:00 every day). Each firing is enqueued exactly once however many workers run.
   */
  readonly cron?: string;
  /** Time zone of `cron`, an IANA name like `"Europe/Berlin"`. Default `"UTC"`. */
  readonly tz?: string;
  /** What to do with firings missed while no worker ran: `none`, `last` (default) or `all` (at most 1,000). */
  readonly catchUp?: 'none' | 'last' | 'all';
  /**
   * At most this many jobs of this type run at once across every worker process. The count is kept as leases, so
   * the slots of a crashed worker come back when its leases expire; it never drifts.
   */
  readonly concurrency?: number;
  /** Starts of this type per interval, across every worker process. */
  readonly rateLimit?: RateLimit;
}

/**
 * Makes a job unique: while one with the same unique key is waiting, scheduled, running or retrying, another
 * enqueue writes nothing and returns `{ id: <existing id>, duplicate: true }`.
 */
export interface UniqueOptions<P = unknown> {
  /**
   * What makes two jobs the same. Default: the whole payload (after the schema's defaults and transforms, in a
   * canonical form with sorted keys). Field names: only those fields. A function: its result.
   */
  readonly by?: readonly string[] | ((payload: P) => string);
  /** The lock expires after this long in any case, so a lost job never blocks its key forever. Default `1h`. */
  readonly ttl?: Duration;
  /** `finish` (default): held until the job completes or dies. `start`: released when it starts running. */
  readonly until?: 'start' | 'finish';
}

/** A job type: the zod schema of its payload plus options. */
export interface JobDefinition<S extends z.core.$ZodType = z.core.$ZodType> extends JobOptions {
  /** Schema of the payload. Enqueue takes `z.input<S>`, handlers receive `z.output<S>`. */
  readonly payload: S;
  /** The payload each cron firing uses. Default: `{}` (so the schema's defaults apply). Checked by `defineJobs`. */
  readonly cronPayload?: z.input<S>;
  /** Unique jobs: `true` for the defaults, or {@link UniqueOptions}. */
  readonly unique?: boolean | UniqueOptions<z.output<S>>;
}

/** At most `max` jobs of a type start per `per`, across every worker process; the others wait (they do not fail). */
export interface RateLimit {
  readonly max: number;
  readonly per: Duration;
}

/** The map given to {@link defineJobs}: job name → definition. */
export type JobDefinitions = { readonly [name: string]: JobDefinition };

/** A job definition with every default filled in and every duration in milliseconds. */
export interface ResolvedJob {
  readonly name: string;
  readonly queue: string;
  readonly attempts: number;
  readonly backoff: {
    readonly type: 'exponential' | 'fixed';
    readonly delayMs: number;
    readonly maxDelayMs: number;
    readonly jitter: number;
  };
  readonly timeoutMs: number | undefined;
  readonly priority: number;
  readonly description: string | undefined;
  readonly schema: z.core.$ZodType;
  /** The periodic schedule, when the job has one. */
  readonly cron: ResolvedCron | undefined;
  /** Uniqueness, when the job is unique. */
  readonly unique: ResolvedUnique | undefined;
  /** Concurrency cap and rate limit across processes, when the job type has either. */
  readonly throttle: ResolvedThrottle | undefined;
}

/** A job type's limits across processes (0 = no limit of that kind). */
export interface ResolvedThrottle {
  readonly concurrency: number;
  readonly rateMax: number;
  readonly ratePerMs: number;
}

/** A job's uniqueness settings. */
export interface ResolvedUnique {
  readonly by: readonly string[] | ((payload: unknown) => string) | undefined;
  readonly ttlMs: number;
  readonly until: 'start' | 'finish';
}

/** A job's periodic schedule. */
export interface ResolvedCron {
  readonly pattern: string;
  readonly tz: string;
  readonly catchUp: 'none' | 'last' | 'all';
  /** The firing payload, already validated and serialized. */
  readonly payloadJson: string;
}

/** The validated job declarations returned by {@link defineJobs}; pass it to `createClient` and `createWorker`. */
export interface JobSet<D extends JobDefinitions = JobDefinitions> {
  /** The definitions exactly as declared (their types drive every typed API). */
  readonly definitions: D;
  /** Resolved definitions by job name. */
  readonly jobs: ReadonlyMap<string, ResolvedJob>;
  /** Every queue named by a job, sorted. */
  readonly queues: readonly QueueNameOf<D>[];
}

/** Every queue named in a set of definitions, as a union of literal types. */
export type QueueNameOf<D extends JobDefinitions> = { [N in keyof D]: QueueOfJob<D, N> }[keyof D];

/** Names of the jobs in a {@link JobSet}. */
export type JobName<J extends JobSet> = keyof J['definitions'] & string;
/** What `enqueue` accepts for job `N`: the schema's input type. */
export type PayloadInput<J extends JobSet, N extends JobName<J>> = z.input<J['definitions'][N]['payload']>;
/** What the handler of job `N` receives: the schema's output type (defaults applied, transforms run). */
export type PayloadOutput<J extends JobSet, N extends JobName<J>> = z.output<J['definitions'][N]['payload']>;
/** The queue of job `N` as a literal type. */
export type QueueOfJob<D extends JobDefinitions, N extends keyof D> = D[N] extends { readonly queue: infer Q extends string }
  ? Q
  : 'default';
/** Every queue named in a {@link JobSet}, as a union of literal types. */
export type QueueName<J extends JobSet> = QueueNameOf<J['definitions']>;
/** Names of the jobs that live in queue `Q`. */
export type JobsInQueue<J extends JobSet, Q extends string> = {
  [N in JobName<J>]: QueueOfJob<J['definitions'], N> extends Q ? N : never;
}[JobName<J>];

/**
 * Makes each job's `cronPayload` type-check against its own schema's input type. (A `unique.by` function's
 * parameter cannot be inferred the same way: annotate it, e.g. `(p: z.output<typeof schema>) => p.userId`.)
 */
export type CronPayloadsMatch<D extends JobDefinitions> = {
  readonly [N in keyof D]: { readonly cronPayload?: z.input<D[N]['payload']> };
};

/** Default values of job options (documented in `docs/configuration.md`). */
export const JOB_DEFAULTS = {
  queue: 'default',
  attempts: 5,
  backoff: { type: 'exponential', delayMs: 1_000, maxDelayMs: 3_600_000, jitter: 0.2 },
  priority: 0,
} as const;

/** Job names: a letter, then letters, digits, `_`, `-` or `.`; at most 100 characters. */
export const JOB_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
/** Queue names: a letter or digit, then letters, digits, `_`, `-` or `.`; at most 64 characters. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Priorities are integers in this range. */
export const PRIORITY_RANGE = { min: -1000, max: 1000 } as const;
/** Attempts are integers in this range. */
export const ATTEMPTS_RANGE = { min: 1, max: 10_000 } as const;

const KNOWN_OPTIONS = new Set([
  'payload',
  'queue',
  'attempts',
  'backoff',
  'timeout',
  'priority',
  'description',
  'cron',
  'tz',
  'cronPayload',
  'catchUp',
  'unique',
  'concurrency',
  'rateLimit',
]);
const KNOWN_UNIQUE = new Set(['by', 'ttl', 'until']);
const CRON_ONLY = ['tz', 'cronPayload', 'catchUp'] as const;

/** Checks a cron expression and time zone; returns a problem or `undefined`. */
export function checkCron(pattern: unknown, tz: unknown): string | undefined {
  if (typeof pattern !== 'string') return `must be a cron expression string, got ${describe(pattern)}`;
  const fields = pattern.trim().split(/\s+/).length;
  if (!pattern.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    return `${JSON.stringify(pattern)} has ${fields} fields; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`;
  }
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz as string });
  } catch {
    return `time zone ${describe(tz)} is unknown (use an IANA name such as "Europe/Berlin")`;
  }
  try {
    CronExpressionParser.parse(pattern, { tz: tz as string, currentDate: new Date() }).next();
  } catch (err) {
    return `${JSON.stringify(pattern)} is not a valid cron expression: ${(err as Error).message}`;
  }
  return undefined;
}
const KNOWN_BACKOFF = new Set(['type', 'delay', 'maxDelay', 'jitter']);

/** Whether a value is a zod 4 schema (classic or mini). */
export function isZodSchema(value: unknown): value is z.core.$ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value && typeof (value as { _zod?: unknown })._zod === 'object';
}

/** Checks a priority (an enqueue option or a definition), returning a problem or `undefined`. */
export function checkPriority(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `must be an integer, got ${describe(value)}`;
  if (value < PRIORITY_RANGE.min || value > PRIORITY_RANGE.max) {
    return `must be between ${PRIORITY_RANGE.min} and ${PRIORITY_RANGE.max}, got ${value}`;
  }
  return undefined;
}

/** Checks an attempts count, returning a problem or `undefined`. */
export function checkAttempts(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `must be an integer, got ${describe(value)}`;
  if (value < ATTEMPTS_RANGE.min || value > ATTEMPTS_RANGE.max) {
    return `must be between ${ATTEMPTS_RANGE.min} and ${ATTEMPTS_RANGE.max}, got ${value}`;
  }
  return undefined;
}

/** Checks a queue name, returning a problem or `undefined`. */
export function checkQueueName(value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${describe(value)}`;
  if (!QUEUE_NAME_PATTERN.test(value)) {
    return `${JSON.stringify(value)} is not a valid queue name (letters, digits, "_", "-", "."; starting with a letter or digit; at most 64 characters)`;
  }
  return undefined;
}

function duration(job: string, option: string, value: unknown, positive: boolean): number {
  const ms = parseDuration(value);
  if (typeof ms === 'string') throw new JobDefinitionError(job, option, ms);
  if (positive && ms <= 0) throw new JobDefinitionError(job, option, `must be greater than zero, got ${describe(value)}`);
  return ms;
}

function resolveBackoff(job: string, value: unknown): ResolvedJob['backoff'] {
  if (value === undefined) return JOB_DEFAULTS.backoff;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JobDefinitionError(job, 'backoff', `must be an object like { type: "exponential", delay: "1s" }, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!KNOWN_BACKOFF.has(key)) {
      throw new JobDefinitionError(job, `backoff.${key}`, `unknown option (known: ${[...KNOWN_BACKOFF].join(', ')})`);
    }
  }
  const b = value as BackoffOptions;
  const type = b.type ?? 'exponential';
  if (type !== 'exponential' && type !== 'fixed') {
    throw new JobDefinitionError(job, 'backoff.type', `must be "exponential" or "fixed", got ${describe(type)}`);
  }
  const delayMs = b.delay === undefined ? JOB_DEFAULTS.backoff.delayMs : duration(job, 'backoff.delay', b.delay, false);
  const maxDelayMs =
    b.maxDelay === undefined ? JOB_DEFAULTS.backoff.maxDelayMs : duration(job, 'backoff.maxDelay', b.maxDelay, false);
  if (maxDelayMs < delayMs) {
    throw new JobDefinitionError(job, 'backoff.maxDelay', `(${maxDelayMs} ms) must not be less than backoff.delay (${delayMs} ms)`);
  }
  let jitter: number;
  if (b.jitter === undefined) jitter = type === 'exponential' ? JOB_DEFAULTS.backoff.jitter : 0;
  else if (b.jitter === true) jitter = JOB_DEFAULTS.backoff.jitter;
  else if (b.jitter === false) jitter = 0;
  else if (typeof b.jitter === 'number' && b.jitter >= 0 && b.jitter <= 1) jitter = b.jitter;
  else throw new JobDefinitionError(job, 'backoff.jitter', `must be a boolean or a fraction between 0 and 1, got ${describe(b.jitter)}`);
  return { type, delayMs, maxDelayMs, jitter };
}

function resolveJob(name: string, def: unknown): ResolvedJob {
  if (!JOB_NAME_PATTERN.test(name)) {
    throw new JobDefinitionError(
      name,
      undefined,
      'is not a valid job name (start with a letter; then letters, digits, "_", "-" or "."; at most 100 characters)',
    );
  }
  if (typeof def !== 'object' || def === null || Array.isArray(def)) {
    throw new JobDefinitionError(name, undefined, `definition must be an object with a "payload" schema, got ${describe(def)}`);
  }
  for (const key of Object.keys(def)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new JobDefinitionError(name, key, `unknown option (known: ${[...KNOWN_OPTIONS].join(', ')})`);
    }
  }
  const d = def as Record<string, unknown>;
  if (d.payload === undefined) throw new JobDefinitionError(name, 'payload', 'is missing: every job needs a zod schema for its payload');
  if (!isZodSchema(d.payload)) throw new JobDefinitionError(name, 'payload', `must be a zod schema, got ${describe(d.payload)}`);

  const queue = d.queue ?? JOB_DEFAULTS.queue;
  const queueProblem = checkQueueName(queue);
  if (queueProblem) throw new JobDefinitionError(name, 'queue', queueProblem);

  const attempts = d.attempts ?? JOB_DEFAULTS.attempts;
  const attemptsProblem = checkAttempts(attempts);
  if (attemptsProblem) throw new JobDefinitionError(name, 'attempts', attemptsProblem);

  const priority = d.priority ?? JOB_DEFAULTS.priority;
  const priorityProblem = checkPriority(priority);
  if (priorityProblem) throw new JobDefinitionError(name, 'priority', priorityProblem);

  const timeoutMs = d.timeout === undefined ? undefined : duration(name, 'timeout', d.timeout, true);
  if (d.description !== undefined && typeof d.description !== 'string') {
    throw new JobDefinitionError(name, 'description', `must be a string, got ${describe(d.description)}`);
  }
  const base = {
    name,
    queue: queue as string,
    attempts: attempts as number,
    backoff: resolveBackoff(name, d.backoff),
    timeoutMs,
    priority: priority as number,
    description: d.description as string | undefined,
    schema: d.payload,
    cron: undefined,
    unique: resolveUnique(name, d.unique),
    throttle: resolveThrottle(name, d.concurrency, d.rateLimit),
  };
  return { ...base, cron: resolveCron(base, d) };
}

function resolveThrottle(job: string, concurrency: unknown, rateLimit: unknown): ResolvedThrottle | undefined {
  if (concurrency === undefined && rateLimit === undefined) return undefined;
  let cap = 0;
  if (concurrency !== undefined) {
    if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1) {
      throw new JobDefinitionError(job, 'concurrency', `must be an integer of at least 1, got ${describe(concurrency)}`);
    }
    cap = concurrency;
  }
  let rateMax = 0;
  let ratePerMs = 0;
  if (rateLimit !== undefined) {
    if (typeof rateLimit !== 'object' || rateLimit === null || Array.isArray(rateLimit)) {
      throw new JobDefinitionError(job, 'rateLimit', `must be an object like { max: 10, per: "1s" }, got ${describe(rateLimit)}`);
    }
    for (const key of Object.keys(rateLimit)) {
      if (key !== 'max' && key !== 'per') throw new JobDefinitionError(job, `rateLimit.${key}`, 'unknown option (known: max, per)');
    }
    const r = rateLimit as Partial<RateLimit>;
    if (typeof r.max !== 'number' || !Number.isInteger(r.max) || r.max < 1 || r.max > 100_000) {
      throw new JobDefinitionError(job, 'rateLimit.max', `must be an integer from 1 to 100,000, got ${describe(r.max)}`);
    }
    if (r.per === undefined) throw new JobDefinitionError(job, 'rateLimit.per', 'is missing (e.g. "1s", "1m")');
    rateMax = r.max;
    ratePerMs = duration(job, 'rateLimit.per', r.per, true);
  }
  return { concurrency: cap, rateMax, ratePerMs };
}

function resolveUnique(job: string, value: unknown): ResolvedUnique | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { by: undefined, ttlMs: 3_600_000, until: 'finish' };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JobDefinitionError(job, 'unique', `must be true or an object like { by: ["userId"], ttl: "1h" }, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!KNOWN_UNIQUE.has(key)) throw new JobDefinitionError(job, `unique.${key}`, `unknown option (known: ${[...KNOWN_UNIQUE].join(', ')})`);
  }
  const u = value as UniqueOptions;
  const by = u.by;
  if (by !== undefined && typeof by !== 'function') {
    if (!Array.isArray(by) || by.length === 0 || !by.every((f) => typeof f === 'string' && f.length > 0)) {
      throw new JobDefinitionError(job, 'unique.by', `must be a non-empty list of field names or a function, got ${describe(by)}`);
    }
  }
  const ttlMs = u.ttl === undefined ? 3_600_000 : duration(job, 'unique.ttl', u.ttl, true);
  const until = u.until ?? 'finish';
  if (until !== 'start' && until !== 'finish') throw new JobDefinitionError(job, 'unique.until', `must be "start" or "finish", got ${describe(until)}`);
  return { by: by as ResolvedUnique['by'], ttlMs, until };
}

function resolveCron(job: ResolvedJob, d: Record<string, unknown>): ResolvedCron | undefined {
  if (d.cron === undefined) {
    for (const option of CRON_ONLY) {
      if (d[option] !== undefined) throw new JobDefinitionError(job.name, option, 'only applies to jobs with a "cron" schedule');
    }
    return undefined;
  }
  const tz = d.tz ?? 'UTC';
  if (typeof tz !== 'string') throw new JobDefinitionError(job.name, 'tz', `must be an IANA time zone name, got ${describe(tz)}`);
  const cronProblem = checkCron(d.cron, tz);
  if (cronProblem) throw new JobDefinitionError(job.name, 'cron', cronProblem);
  const catchUp = d.catchUp ?? 'last';
  if (catchUp !== 'none' && catchUp !== 'last' && catchUp !== 'all') {
    throw new JobDefinitionError(job.name, 'catchUp', `must be "none", "last" or "all", got ${describe(catchUp)}`);
  }
  let payloadJson: string;
  try {
    payloadJson = serializePayload(job, d.cronPayload ?? {}, DEFAULT_MAX_PAYLOAD_BYTES).text;
  } catch (err) {
    if (!(err instanceof JobValidationError)) throw err;
    const why = err.message.replace(/^Invalid payload for job "[^"]*" at enqueue: /, '');
    throw new JobDefinitionError(
      job.name,
      'cronPayload',
      `the payload each cron firing would use${d.cronPayload === undefined ? ' ({}, as no cronPayload is given)' : ''} fails the schema: ${why}`,
    );
  }
  return { pattern: d.cron as string, tz, catchUp, payloadJson };
}

/**
 * Declares the job types of an application: a map from job name to its payload schema and options.
 * The definitions are checked now: an unknown option, a negative duration, a bad job or queue name or a payload
 * that is not a zod schema throws a {@link JobDefinitionError} naming the job and the option.
 *
 * @example
 * export const jobs = defineJobs({
 *   sendWelcomeEmail: { payload: z.object({ userId: z.string(), email: z.email() }), queue: 'email', attempts: 3 },
 * });
 */
export function defineJobs<const D extends JobDefinitions>(definitions: D & CronPayloadsMatch<D>): JobSet<D> {
  if (typeof definitions !== 'object' || definitions === null || Array.isArray(definitions)) {
    throw new JobDefinitionError('', undefined, `expects an object mapping job names to definitions, got ${describe(definitions)}`);
  }
  const jobs = new Map<string, ResolvedJob>();
  for (const [name, def] of Object.entries(definitions)) jobs.set(name, resolveJob(name, def));
  if (jobs.size === 0) throw new JobDefinitionError('', undefined, 'declares no jobs');
  const queues = [...new Set([...jobs.values()].map((j) => j.queue))].sort() as QueueNameOf<D>[];
  return Object.freeze({ definitions, jobs, queues });
}
