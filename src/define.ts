import type * as z from 'zod';
import { describe } from './durations.js';
import { JobDefinitionError } from './errors.js';
import { JOB_NAME_PATTERN, resolveJobOptions, type JobOptionsInput, type ResolvedJob, type UniqueOptionsInput } from './job-options.js';
import type { AnyPayloadVersion, EmitSchema, VersionsMatch } from './versions.js';

export {
  ATTEMPTS_RANGE,
  checkAttempts,
  checkCron,
  checkPriority,
  checkQueueName,
  isZodSchema,
  JOB_DEFAULTS,
  PRIORITY_RANGE,
  QUEUE_NAME_PATTERN,
  type ResolvedJob,
} from './job-options.js';

/** How long to wait before the next attempt after a failure: the `backoff` option of {@link jobOptionsSchema}. */
export type BackoffOptions = NonNullable<JobOptions['backoff']>;

/**
 * Options of a job type, as declared by {@link jobOptionsSchema} (the `payload`, `unique` and `cronPayload` of a
 * definition are typed by its schema: see {@link JobDefinition}). Every option has a default; see
 * `docs/configuration.md`.
 */
export type JobOptions = Omit<JobOptionsInput, 'payload' | 'unique' | 'cronPayload' | 'versions' | 'emitVersion'>;

/**
 * Makes a job unique: while one with the same unique key is waiting, scheduled, running or retrying, another
 * enqueue writes nothing and returns `{ id: <existing id>, duplicate: true }`.
 */
export type UniqueOptions<P = unknown> = Omit<UniqueOptionsInput, 'by'> & {
  /**
   * What makes two jobs the same. Default: the whole payload (after the schema's defaults and transforms, in a
   * canonical form with sorted keys). Field names: only those fields. A function: its result.
   */
  readonly by?: readonly string[] | ((payload: P) => string);
};

/** A job type: the zod schema of its payload plus options. */
export interface JobDefinition<S extends z.core.$ZodType = z.core.$ZodType> extends JobOptions {
  /** Schema of the payload. Enqueue takes `z.input<S>`, handlers receive `z.output<S>`. */
  readonly payload: S;
  /** The payload each cron firing uses. Default: `{}` (so the schema's defaults apply). Checked by `defineJobs`. */
  readonly cronPayload?: z.input<S>;
  /** Unique jobs: `true` for the defaults, or {@link UniqueOptions}. */
  readonly unique?: boolean | UniqueOptions<z.output<S>>;
  /**
   * The earlier versions of the payload, oldest first, each with its migration to the next one (docs/contracts.md,
   * "Versioned payloads"): version 1 is the first entry, the current `payload` is version `versions.length + 1`.
   * Stored jobs written with an earlier version are parsed with its schema and migrated up before the handler runs.
   * Use `payloadVersion(schema, migrate)` for each entry so the migration's parameter is typed. Default: none
   * (the payload is version 1).
   */
  readonly versions?: readonly AnyPayloadVersion[];
  /**
   * The version producers write (1 to the current one): enqueue takes and validates that version's input and stores
   * it with its version number, so workers that do not know the current version yet can still read it (an
   * expand/contract rollout). Default: the current version. Cron firings write it too (`cronPayload` is its input).
   */
  readonly emitVersion?: number;
}

/** At most `max` jobs of a type start per `per`, across every worker process; the others wait (they do not fail). */
export type RateLimit = NonNullable<JobOptions['rateLimit']>;

/** The map given to {@link defineJobs}: job name → definition. */
export type JobDefinitions = { readonly [name: string]: JobDefinition };

/** A job type's limits across processes (0 = no limit of that kind). */
export type ResolvedThrottle = NonNullable<ResolvedJob['throttle']>;
/** A job's uniqueness settings. */
export type ResolvedUnique = NonNullable<ResolvedJob['unique']>;
/** A job's periodic schedule. */
export type ResolvedCron = NonNullable<ResolvedJob['cron']>;

/** The validated job declarations returned by {@link defineJobs}; pass it to `createClient` and `createWorker`. */
export interface JobSet<D extends JobDefinitions = JobDefinitions> {
  /** The definitions exactly as declared (their types drive every typed API). */
  readonly definitions: D;
  /** Resolved definitions by job name. */
  readonly jobs: ReadonlyMap<string, ResolvedJob>;
  /**
   * The job each old name (a job's `aliases`) now names. Readers of stored jobs look a name up here only when
   * {@link JobSet.jobs} has no job of that name (see {@link jobNamed}).
   */
  readonly aliases: ReadonlyMap<string, ResolvedJob>;
  /** Every queue named by a job, sorted. */
  readonly queues: readonly QueueNameOf<D>[];
}

/** Every queue named in a set of definitions, as a union of literal types. */
export type QueueNameOf<D extends JobDefinitions> = { [N in keyof D]: QueueOfJob<D, N> }[keyof D];

/** Names of the jobs in a {@link JobSet}. */
export type JobName<J extends JobSet> = keyof J['definitions'] & string;
/**
 * What `enqueue` accepts for job `N`: the schema's input type (of version `emitVersion` for a job that pins one,
 * else of its current `payload`).
 */
export type PayloadInput<J extends JobSet, N extends JobName<J>> = z.input<EmitSchema<J['definitions'][N]>>;
/** What the handler of job `N` receives: the schema's output type (defaults applied, transforms run). */
export type PayloadOutput<J extends JobSet, N extends JobName<J>> = z.output<J['definitions'][N]['payload']>;
/** The result schema job `N` declares, or `undefined` when it declares none. */
export type ResultSchemaOf<D extends JobDefinitions, N extends keyof D> = D[N] extends { readonly result: infer R extends z.core.$ZodType }
  ? R
  : undefined;
/** Names of the jobs that declare a `result` schema. */
export type JobsWithResult<J extends JobSet> = {
  [N in JobName<J>]: ResultSchemaOf<J['definitions'], N> extends z.core.$ZodType ? N : never;
}[JobName<J>];
/** What the handler of job `N` must return: its result schema's input type (`void` for a job without a result). */
export type HandlerReturn<J extends JobSet, N extends JobName<J>> =
  ResultSchemaOf<J['definitions'], N> extends infer R extends z.core.$ZodType ? z.input<R> : void;
/** What waiting for the result of job `N` gives: its result schema's output type (`never` for a job without one). */
export type ResultOutput<J extends JobSet, N extends JobName<J>> =
  ResultSchemaOf<J['definitions'], N> extends infer R extends z.core.$ZodType ? z.output<R> : never;
/** What the handler of job `N` returns as its result: the result schema's input type (`never` for a job without one). */
export type ResultInput<J extends JobSet, N extends JobName<J>> =
  ResultSchemaOf<J['definitions'], N> extends infer R extends z.core.$ZodType ? z.input<R> : never;

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
  readonly [N in keyof D]: { readonly cronPayload?: z.input<EmitSchema<D[N]>> };
};

export { JOB_NAME_PATTERN } from './job-options.js';

function resolveJob(name: string, def: unknown): ResolvedJob {
  if (!JOB_NAME_PATTERN.test(name)) {
    throw new JobDefinitionError(
      name,
      undefined,
      'is not a valid job name (start with a letter; then letters, digits, "_", "-" or "."; at most 100 characters)',
    );
  }
  const resolved = resolveJobOptions(name, def);
  if (resolved instanceof JobDefinitionError) throw resolved;
  return { name, ...resolved };
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
export function defineJobs<const D extends JobDefinitions>(definitions: D & CronPayloadsMatch<D> & VersionsMatch<D>): JobSet<D> {
  if (typeof definitions !== 'object' || definitions === null || Array.isArray(definitions)) {
    throw new JobDefinitionError('', undefined, `expects an object mapping job names to definitions, got ${describe(definitions)}`);
  }
  const jobs = new Map<string, ResolvedJob>();
  for (const [name, def] of Object.entries(definitions)) jobs.set(name, resolveJob(name, def));
  if (jobs.size === 0) throw new JobDefinitionError('', undefined, 'declares no jobs');
  const aliases = new Map<string, ResolvedJob>();
  for (const job of jobs.values()) {
    for (const alias of job.aliases) {
      if (jobs.has(alias)) {
        throw new JobDefinitionError(job.name, 'aliases', `${JSON.stringify(alias)} is the name of a declared job; an alias is an old name no job has any more`);
      }
      const other = aliases.get(alias);
      if (other !== undefined) throw new JobDefinitionError(job.name, 'aliases', `${JSON.stringify(alias)} is already an alias of job "${other.name}"`);
      aliases.set(alias, job);
    }
  }
  const queues = [...new Set([...jobs.values()].map((j) => j.queue))].sort() as QueueNameOf<D>[];
  return Object.freeze({ definitions, jobs, aliases, queues });
}

/**
 * The job a stored job named `name` runs as: the job of that name, or else the job that lists `name` among its
 * `aliases` (a renamed job); `undefined` when neither exists.
 */
export function jobNamed(jobSet: Pick<JobSet, 'jobs' | 'aliases'>, name: string): ResolvedJob | undefined {
  return jobSet.jobs.get(name) ?? jobSet.aliases.get(name);
}
