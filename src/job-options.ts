/**
 * The job options, declared once. {@link jobOptionsSchema} is the single description of every option a job
 * definition accepts: its type (the public `JobOptions` / `ResolvedJob` types are derived from it), its check and
 * message (`defineJobs` reports the first problem as a `JobDefinitionError`), its default, and what it resolves to.
 * `JOB_DESCRIPTION` (rules.ts) says how each resolved field is shown by the code generator and in the manifest.
 *
 * Adding an option: add it to the shape below (with its messages and default), to the resolved job the transform
 * returns, to `JOB_DESCRIPTION` in rules.ts (or to an existing entry's `from`), to docs/configuration.md, and give it its
 * behaviour. test/unit/job-options.test.ts fails when the docs or the description miss an option.
 */
import * as z from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { describe, groupDigits, parseDuration, type Duration } from './durations.js';
import { JobDefinitionError, JobValidationError } from './errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, serializePayload } from './payload.js';
import { JOB_NAME_PATTERN } from './job-name.js';

export { JOB_NAME_PATTERN } from './job-name.js';

/** Default values of job options (documented in `docs/configuration.md`). */
export const JOB_DEFAULTS = {
  queue: 'default',
  attempts: 5,
  backoff: { type: 'exponential', delayMs: 1_000, maxDelayMs: 3_600_000, jitter: 0.2 },
  priority: 0,
} as const;

/** Why `value` is not a valid job name, or `undefined` when it is one. */
export function checkJobName(value: unknown): string | undefined {
  if (typeof value !== 'string' || !JOB_NAME_PATTERN.test(value)) {
    return `${typeof value === 'string' ? JSON.stringify(value) : describe(value)} is not a valid job name (start with a letter; then letters, digits, "_", "-" or "."; at most 100 characters)`;
  }
  return undefined;
}

/** Queue names: a letter or digit, then letters, digits, `_`, `-` or `.`; at most 64 characters. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Priorities are integers in this range. */
export const PRIORITY_RANGE = { min: -1000, max: 1000 } as const;
/** Attempts are integers in this range. */
export const ATTEMPTS_RANGE = { min: 1, max: 10_000 } as const;

const UNIQUE_TTL_MS = 3_600_000;
/** Defaults of the result options (docs/results.md): 24 h of retention, 512 KiB of JSON. */
export const RESULT_DEFAULTS = { retentionMs: 86_400_000, maxBytes: 524_288 } as const;
/** The longest `resultRetention` accepted, in ms (2^53 - 1): every such TTL is an exact integer Redis takes for PX. */
const MAX_RESULT_RETENTION_MS = Number.MAX_SAFE_INTEGER;
/** The largest `maxResultBytes` accepted: 32 MiB (a result travels in one Redis call beside other acks). */
const MAX_RESULT_BYTES_LIMIT = 33_554_432;
const DEFAULT_TZ = 'UTC';

// ---------------------------------------------------------------------------------------------------------------
// Building blocks: each gives a zod schema whose every issue carries the message users have always seen.

/** A zod `error` option whose message is `problem(value)`. */
function says(problem: (value: unknown) => string | undefined): { error: (issue: { readonly input?: unknown }) => string | undefined } {
  return { error: (issue) => problem(issue.input) };
}

/** `must be <what>, got <the value>` */
function expected(what: string): { error: (issue: { readonly input?: unknown }) => string } {
  return { error: (issue) => `must be ${what}, got ${describe(issue.input)}` };
}

/**
 * An integer option within `range`: the zod schema for `defineJobs` and the same rule as a plain function, cheap
 * enough for every enqueue (client.ts checks per-enqueue overrides with it). Both give the same messages.
 */
function integerIn(range: { readonly min: number; readonly max: number }): {
  readonly schema: z.ZodInt;
  readonly check: (value: unknown) => string | undefined;
} {
  const check = (value: unknown): string | undefined => {
    if (typeof value !== 'number' || !Number.isInteger(value)) return `must be an integer, got ${describe(value)}`;
    if (value < range.min || value > range.max) return `must be between ${range.min} and ${range.max}, got ${value}`;
    return undefined;
  };
  const error = says(check);
  return { schema: z.int(error).min(range.min, error).max(range.max, error), check };
}

/** A duration option (milliseconds or a string like `"30s"`), resolved to milliseconds. */
function duration(minimum: 'zero' | 'positive') {
  return z.custom<Duration>().transform((value, ctx) => {
    const ms = value === undefined ? 'is missing (e.g. "1s", "1m")' : parseDuration(value);
    if (typeof ms === 'string') ctx.issues.push({ code: 'custom', message: ms, input: value });
    else if (minimum === 'positive' && ms <= 0) {
      ctx.issues.push({ code: 'custom', message: `must be greater than zero, got ${describe(value)}`, input: value });
    } else return ms;
    return z.NEVER;
  });
}

/**
 * `schema`, taking `null` as absent (its default), as defineJobs always has for this option. Typed as `schema`: the
 * types do not offer `null`.
 */
function nullMeansAbsent<S extends z.ZodType>(schema: S): S {
  return z.preprocess((value) => (value === null ? undefined : value), schema) as unknown as S;
}

/** An object of options: unknown keys are refused, listing the known ones; anything else than an object is `notObject`. */
function optionObject<S extends z.core.$ZodLooseShape>(shape: S, notObject: (value: unknown) => string) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown option (known: ${known})` : notObject(issue.input)),
  });
}

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

/** Checks a queue name, returning a problem or `undefined`. */
export function checkQueueName(value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${describe(value)}`;
  if (!QUEUE_NAME_PATTERN.test(value)) {
    return `${JSON.stringify(value)} is not a valid queue name (letters, digits, "_", "-", "."; starting with a letter or digit; at most 64 characters)`;
  }
  return undefined;
}

/** Whether a value is a zod 4 schema (classic or mini). */
export function isZodSchema(value: unknown): value is z.core.$ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value && typeof (value as { _zod?: unknown })._zod === 'object';
}

const attempts = integerIn(ATTEMPTS_RANGE);
const priority = integerIn(PRIORITY_RANGE);

/** Checks an attempts count (a definition or a per-enqueue override), returning a problem or `undefined`. */
export const checkAttempts: (value: unknown) => string | undefined = attempts.check;
/** Checks a priority (a definition or a per-enqueue override), returning a problem or `undefined`. */
export const checkPriority: (value: unknown) => string | undefined = priority.check;

// ---------------------------------------------------------------------------------------------------------------
// The options.

const JITTER = expected('a boolean or a fraction between 0 and 1');
const UNIQUE_BY = expected('a non-empty list of field names or a function');
const RATE_MAX = expected('an integer from 1 to 100,000');
const CONCURRENCY = expected('an integer of at least 1');

const backoffSchema = optionObject(
  {
    /**
     * `exponential` (default): `delay * 2^(attempt - 1)`, so 1 s, 2 s, 4 s … with the defaults.
     * `fixed`: always `delay`.
     */
    type: nullMeansAbsent(z.enum(['exponential', 'fixed'], expected('"exponential" or "fixed"')).optional()),
    /** Base delay. Default `1s`. */
    delay: duration('zero').optional(),
    /** Upper bound of any single delay. Default `1h`. */
    maxDelay: duration('zero').optional(),
    /**
     * Randomness, as a fraction of the delay that may be taken off (0 – 1): with `0.2` a 10 s delay becomes 8 – 10 s.
     * `true` means `0.2`, `false` means `0`. Default `0.2` for exponential, `0` for fixed. Jitter spreads out retries
     * of jobs that failed together so they do not hit a recovering dependency at the same instant.
     */
    jitter: z.union([z.boolean(), z.number(JITTER).min(0, JITTER).max(1, JITTER)], JITTER).optional(),
  },
  (value) => `must be an object like { type: "exponential", delay: "1s" }, got ${describe(value)}`,
).transform((b, ctx) => {
  const type = b.type ?? JOB_DEFAULTS.backoff.type;
  const delayMs = b.delay ?? JOB_DEFAULTS.backoff.delayMs;
  const maxDelayMs = b.maxDelay ?? JOB_DEFAULTS.backoff.maxDelayMs;
  if (maxDelayMs < delayMs) {
    const message = `(${maxDelayMs} ms) must not be less than backoff.delay (${delayMs} ms)`;
    ctx.issues.push({ code: 'custom', path: ['maxDelay'], input: b, message });
    return z.NEVER;
  }
  let jitter: number;
  if (b.jitter === undefined) jitter = type === 'exponential' ? JOB_DEFAULTS.backoff.jitter : 0;
  else if (typeof b.jitter === 'boolean') jitter = b.jitter ? JOB_DEFAULTS.backoff.jitter : 0;
  else jitter = b.jitter;
  return { type, delayMs, maxDelayMs, jitter };
});

const uniqueSchema = optionObject(
  {
    /**
     * What makes two jobs the same. Default: the whole payload (after the schema's defaults and transforms, in a
     * canonical form with sorted keys). Field names: only those fields. A function: its result.
     */
    by: z
      .custom<readonly string[] | ((payload: unknown) => string)>(
        (v) => typeof v === 'function' || (Array.isArray(v) && v.length > 0 && v.every((f) => typeof f === 'string' && f.length > 0)),
        UNIQUE_BY,
      )
      .optional(),
    /** The lock expires after this long in any case, so a lost job never blocks its key forever. Default `1h`. */
    ttl: duration('positive').optional(),
    /** `finish` (default): held until the job completes or dies. `start`: released when it starts running. */
    until: nullMeansAbsent(z.enum(['start', 'finish'], expected('"start" or "finish"')).optional()),
  },
  (value) => `must be true or an object like { by: ["userId"], ttl: "1h" }, got ${describe(value)}`,
);

const rateLimitSchema = optionObject(
  {
    /** Most starts per `per`: an integer from 1 to 100,000. */
    max: z.int(RATE_MAX).min(1, RATE_MAX).max(100_000, RATE_MAX),
    /** The period of `max`. */
    per: duration('positive'),
  },
  (value) => `must be an object like { max: 10, per: "1s" }, got ${describe(value)}`,
);

const ALIASES = expected('a list of old job names');

const VERSIONS = expected('a list of earlier versions, each { payload: <zod schema>, migrate: <function> }');
const EMIT_VERSION = expected('a version number (an integer from 1)');
/** Whether `value` is an `async` function (a migration must be synchronous; one returning a Promise is caught at dequeue). */
function isAsyncFunction(value: unknown): boolean {
  return typeof value === 'function' && (value.constructor as { name?: unknown } | undefined)?.name === 'AsyncFunction';
}
/** One earlier version of the payload: its schema and the migration to the next version. */
const versionSchema = optionObject(
  {
    /** The schema of this version's payload. */
    payload: z.custom<z.core.$ZodType>(isZodSchema, {
      error: (issue) => (issue.input === undefined ? 'is missing: every version needs a zod schema' : `must be a zod schema, got ${describe(issue.input)}`),
    }),
    /** From this version's output to the next version's input. */
    migrate: z.custom<(payload: unknown) => unknown>((v) => typeof v === 'function' && !isAsyncFunction(v), {
      error: (issue) =>
        issue.input === undefined
          ? 'is missing: every version needs a migration to the next one'
          : isAsyncFunction(issue.input)
            ? "must be a synchronous function (an async one is called at every dequeue and its result is a Promise, not the next version's input)"
            : `must be a function, got ${describe(issue.input)}`,
    }),
  },
  (value) => `must be an object like { payload: v1Schema, migrate: (p) => ({ ... }) }, got ${describe(value)}`,
);

const RESULT_BYTES = expected(`an integer from 2 to ${groupDigits(MAX_RESULT_BYTES_LIMIT)}`);

/** Options that only apply to a job with a `cron` schedule. */
const CRON_ONLY = ['tz', 'cronPayload', 'catchUp'] as const;

const optionsShape = {
  /** Schema of the payload. Enqueue takes `z.input<S>`, handlers receive `z.output<S>`. */
  payload: z.custom<z.core.$ZodType>(isZodSchema, {
    error: (issue) =>
      issue.input === undefined
        ? 'is missing: every job needs a zod schema for its payload'
        : `must be a zod schema, got ${describe(issue.input)}`,
  }),
  /** The queue (a Redis list family) the job is stored in. Default `"default"`. */
  queue: nullMeansAbsent(z.string(says(checkQueueName)).regex(QUEUE_NAME_PATTERN, says(checkQueueName)).default(JOB_DEFAULTS.queue)),
  /** Total tries, the first included. Default 5. Integer from 1 to 10,000. */
  attempts: nullMeansAbsent(attempts.schema.default(JOB_DEFAULTS.attempts)),
  /** Delay between attempts. Default exponential from 1 s, doubling, capped at 1 h, 20 % jitter. */
  backoff: backoffSchema.prefault({}),
  /** Longest an attempt may run; the handler's signal aborts and the attempt fails with `TimeoutError`. Default none. */
  timeout: duration('positive').optional(),
  /** Higher runs first within a queue. Integer from -1000 to 1000. Default 0. */
  priority: nullMeansAbsent(priority.schema.default(JOB_DEFAULTS.priority)),
  /** A sentence about the job, shown in generated code and tools. */
  description: z.string(expected('a string')).optional(),
  /**
   * Runs the job periodically: a cron expression with 5 fields (minute precision) or 6 (seconds first), parsed by
   * cron-parser, e.g. `"0 3 * * *"` (03:00 every day). Each firing is enqueued exactly once however many workers run.
   */
  cron: z.string(says((value) => checkCron(value, DEFAULT_TZ))).optional(),
  /** Time zone of `cron`, an IANA name like `"Europe/Berlin"`. Default `"UTC"`. */
  tz: nullMeansAbsent(z.string(expected('an IANA time zone name')).optional()),
  /** The payload each cron firing uses. Default: `{}` (so the schema's defaults apply). Checked by `defineJobs`. */
  cronPayload: nullMeansAbsent(z.unknown().optional()),
  /** What to do with firings missed while no worker ran: `none`, `last` (default) or `all` (at most 1,000). */
  catchUp: nullMeansAbsent(z.enum(['none', 'last', 'all'], expected('"none", "last" or "all"')).optional()),
  /** Unique jobs: `true` for the defaults, or an object of unique options. */
  unique: z
    .preprocess((value) => (value === true ? {} : value === false ? undefined : value), uniqueSchema.optional())
    .optional() as z.ZodOptional<z.ZodType<z.output<typeof uniqueSchema> | undefined, boolean | z.input<typeof uniqueSchema>>>,
  /**
   * At most this many jobs of this type run at once across every worker process. The count is kept as leases, so
   * the slots of a crashed worker come back when its leases expire; it never drifts.
   */
  concurrency: z.int(CONCURRENCY).min(1, CONCURRENCY).optional(),
  /** Starts of this type per interval, across every worker process. */
  rateLimit: rateLimitSchema.optional(),
  /**
   * Schema of the job's result (docs/results.md). The handler must return `z.input<S>`; the worker validates it and
   * stores it (as JSON, apart from the job) when it records the success; `enqueue(…).result()` gives `z.output<S>`.
   * Default: none (the handler's return value is ignored).
   */
  result: z
    .custom<z.core.$ZodType>(isZodSchema, { error: (issue) => `must be a zod schema, got ${describe(issue.input)}` })
    .optional(),
  /** How long a stored result is kept after the job completes. Default `24h`. Only with `result`. */
  resultRetention: duration('positive')
    .pipe(z.number().max(MAX_RESULT_RETENTION_MS, { error: `must be at most ${MAX_RESULT_RETENTION_MS} ms (a larger TTL is refused by Redis's SET PX, failing the whole acknowledgement call)` }))
    .optional(),
  /** Largest result accepted, in bytes of JSON; a larger one fails the job (not retried). Default 512 KiB. Only with `result`. */
  maxResultBytes: z.int(RESULT_BYTES).min(2, RESULT_BYTES).max(MAX_RESULT_BYTES_LIMIT, RESULT_BYTES).optional(),
  /**
   * Old names of the job (renames, docs/contracts.md "Rename a job"): a stored job whose envelope names one of them
   * is run by this job's handler, its payload parsed with this job's schema, and counted under this job's name. Each
   * must be a valid job name and name no other job nor another job's alias. Default: none.
   */
  aliases: z.array(z.string(says(checkJobName)).regex(JOB_NAME_PATTERN, says(checkJobName)), ALIASES).readonly().optional(),
  /**
   * The earlier versions of the payload, oldest first (docs/contracts.md, "Versioned payloads"): each a `{ payload,
   * migrate }` with a zod schema and the migration to the next version. The current `payload` is version
   * `versions.length + 1`. Default: none (the payload is version 1).
   */
  versions: z.array(versionSchema, VERSIONS).readonly().optional(),
  /** The version producers write: an integer from 1 to the current version. Default: the current version. */
  emitVersion: z.int(EMIT_VERSION).min(1, EMIT_VERSION).optional(),
};

const optionsObject = optionObject(optionsShape, (value) => `definition must be an object with a "payload" schema, got ${describe(value)}`);

/**
 * Refuses the options that only apply with a `cron` schedule on a job without one, whatever their value (unless an
 * option is unknown: that is said first).
 */
function onlyWithCron(value: unknown, ctx: z.core.$RefinementCtx): unknown {
  const problem = cronOnlyProblem(value);
  if (problem !== undefined) ctx.issues.push({ ...problem, input: value });
  return value;
}

/** A `tz`, `cronPayload` or `catchUp` on a definition without `cron` (none when an option is unknown). */
function cronOnlyProblem(value: unknown): { readonly code: 'custom'; readonly path: string[]; readonly message: string } | undefined {
  if (typeof value !== 'object' || value === null || (value as { cron?: unknown }).cron !== undefined) return undefined;
  if (Object.keys(value).some((key) => !Object.hasOwn(optionsShape, key))) return undefined;
  const option = CRON_ONLY.find((o) => (value as Record<string, unknown>)[o] !== undefined);
  return option === undefined ? undefined : { code: 'custom', path: [option], message: 'only applies to jobs with a "cron" schedule' };
}

/** {@link jobOptionsSchema} without its refusal of cron-only options on a job without `cron` (see resolveJobOptions). */
const resolvedOptions = optionsObject.transform(
  (o, ctx) => {
    const problem = (option: string, message: string): typeof z.NEVER => {
      ctx.issues.push({ code: 'custom', path: [option], input: o, message });
      return z.NEVER;
    };
    if (o.result === undefined) {
      if (o.resultRetention !== undefined) return problem('resultRetention', 'only applies to jobs with a "result" schema');
      if (o.maxResultBytes !== undefined) return problem('maxResultBytes', 'only applies to jobs with a "result" schema');
    }
    const versions = (o.versions ?? []).map((v, i) => ({ version: i + 1, schema: v.payload, migrate: v.migrate }));
    const version = versions.length + 1;
    if (o.emitVersion !== undefined && o.emitVersion > version) {
      return problem('emitVersion', `is ${o.emitVersion}, but the job's versions go from 1 to ${version} (the current payload)`);
    }
    // Producers (cron firings too) write version emitVersion, with its schema.
    const emitVersion = o.emitVersion ?? version;
    const emitSchema = emitVersion === version ? o.payload : (versions[emitVersion - 1] as { schema: z.core.$ZodType }).schema;
    let cron:
      | { readonly pattern: string; readonly tz: string; readonly catchUp: 'none' | 'last' | 'all'; readonly payloadJson: string }
      | undefined;
    if (o.cron !== undefined) {
      const tz = o.tz ?? DEFAULT_TZ;
      const cronProblem = checkCron(o.cron, tz);
      if (cronProblem !== undefined) return problem('cron', cronProblem);
      let payloadJson: string;
      try {
        const job = { name: '', schema: emitSchema } as Pick<ResolvedJob, 'name' | 'schema'> as ResolvedJob;
        payloadJson = serializePayload(job, o.cronPayload ?? {}, DEFAULT_MAX_PAYLOAD_BYTES).text;
      } catch (err) {
        if (!(err instanceof JobValidationError)) throw err;
        const why = err.message.replace(/^Invalid payload for job "[^"]*" at enqueue: /, '');
        const which = o.cronPayload === undefined ? ' ({}, as no cronPayload is given)' : '';
        return problem('cronPayload', `the payload each cron firing would use${which} fails the schema: ${why}`);
      }
      cron = { pattern: o.cron, tz, catchUp: o.catchUp ?? 'last', payloadJson };
    }
    const u = o.unique;
    if (o.aliases !== undefined) {
      const twice = o.aliases.find((a, i) => o.aliases?.indexOf(a) !== i);
      if (twice !== undefined) return problem('aliases', `lists ${JSON.stringify(twice)} twice`);
    }

    return {
      /** The queue the job is stored in. */
      queue: o.queue,
      /** Total tries, the first included. */
      attempts: o.attempts,
      /**
       * The wait before each retry: `delayMs * 2^(attempt - 1)` (exponential) or `delayMs` (fixed), at most
       * `maxDelayMs`, less up to `jitter` of it at random.
       */
      backoff: o.backoff,
      /** Longest an attempt may run, when limited. */
      timeoutMs: o.timeout,
      /** Higher runs first within a queue. */
      priority: o.priority,
      /** The job's description, when it has one. */
      description: o.description,
      /** Schema of the payload. */
      schema: o.payload,
      /**
       * The periodic schedule, when the job has one (`payloadJson`: the firing payload, validated with the schema of
       * version `emitVersion` and serialized).
       */
      cron,
      /** Uniqueness, when the job is unique. */
      unique:
        u === undefined
          ? undefined
          : {
              /** What makes two jobs the same; `undefined` for the whole payload. */
              by: u.by,
              /** The lock's expiry. */
              ttlMs: u.ttl ?? UNIQUE_TTL_MS,
              /** When the lock is released. */
              until: u.until ?? 'finish',
            },
      /** Concurrency cap and rate limit across processes (0 = no limit of that kind), when the job type has either. */
      throttle:
        o.concurrency === undefined && o.rateLimit === undefined
          ? undefined
          : { concurrency: o.concurrency ?? 0, rateMax: o.rateLimit?.max ?? 0, ratePerMs: o.rateLimit?.per ?? 0 },
      /** The result, when the job type declares one: its schema, how long it is kept (ms), its size limit (bytes of JSON). */
      result:
        o.result === undefined
          ? undefined
          : {
              schema: o.result,
              retentionMs: o.resultRetention ?? RESULT_DEFAULTS.retentionMs,
              maxBytes: o.maxResultBytes ?? RESULT_DEFAULTS.maxBytes,
            },
      /** Old names of the job: stored jobs under them run as this job (empty when it has none). */
      aliases: o.aliases ?? [],
      /** The current payload version (the schema `schema`): 1 + the number of earlier versions. */
      version,
      /**
       * The earlier payload versions, oldest first (`version` 1, 2, …), each with its migration to the next one
       * (empty for a job without versions).
       */
      versions,
      /** The version producers write (`version` unless the definition pins an earlier one). */
      emitVersion,
    };
  },
);

/**
 * Every option of a job definition: its type, check, message and default, and the {@link ResolvedJob} fields it
 * resolves to (durations in milliseconds, grouped options together). `defineJobs` parses each definition with it.
 */
export const jobOptionsSchema = z.preprocess(onlyWithCron, resolvedOptions);

/** What the unique option's object may hold, as declared (its `by` function is typed per job by `UniqueOptions`). */
export type UniqueOptionsInput = DeepReadonly<z.input<typeof uniqueSchema>>;

/** The names of the job options (`payload` included), in declaration order. */
export const JOB_OPTION_KEYS = Object.keys(optionsShape) as readonly JobOptionKey[];
/** The name of a job option. */
export type JobOptionKey = keyof typeof optionsShape;

/** The nested options of the options that take an object (`backoff.delay`, `unique.ttl`, `rateLimit.per`). */
export const NESTED_OPTION_KEYS: { readonly [K in 'backoff' | 'unique' | 'rateLimit']: readonly string[] } = {
  backoff: Object.keys(backoffSchema.in.shape),
  unique: Object.keys(uniqueSchema.shape),
  rateLimit: Object.keys(rateLimitSchema.shape),
};

/**
 * The order in which defineJobs has always checked a definition (after an unknown option): the first problem in this
 * order is the one it names. A cron-only option on a job without `cron` comes after `rateLimit`, before `tz`.
 */
const CHECK_ORDER = ['payload', 'queue', 'attempts', 'priority', 'timeout', 'description', 'backoff', 'unique', 'concurrency', 'rateLimit', 'tz', 'cron', 'catchUp', 'cronPayload', 'result', 'resultRetention', 'maxResultBytes', 'aliases', 'versions', 'emitVersion'];
const CRON_ONLY_RANK = CHECK_ORDER.indexOf('tz') - 0.5;

/** Within an option that takes an object, its keys in their declared (and checked) order. */
function nestedRank(path: readonly PropertyKey[]): number {
  const keys = (NESTED_OPTION_KEYS as Readonly<Record<string, readonly string[]>>)[String(path[0])];
  const at = path.length > 1 && keys !== undefined ? keys.indexOf(String(path[1])) : -1;
  return at < 0 ? 0 : 0.01 * (at + 1);
}

interface Problem {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
  readonly keys?: readonly string[];
}

/**
 * Resolves one definition, or gives the problem defineJobs names as a {@link JobDefinitionError} naming the job and
 * the option: with several, the first in the order the checks have always run (an unknown option first, as the most
 * likely mistake; within an option that takes an object, an unknown key of it first).
 */
export function resolveJobOptions(job: string, def: unknown): ResolvedOptionsOf | JobDefinitionError {
  const parsed = resolvedOptions.safeParse(def);
  const problems: { readonly rank: number; readonly problem: Problem }[] = [];
  const cronOnly = cronOnlyProblem(def);
  if (cronOnly !== undefined) problems.push({ rank: CRON_ONLY_RANK, problem: cronOnly });
  if (parsed.success && problems.length === 0) return parsed.data;
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const top = issue.path[0];
      const unknownKey = issue.code === 'unrecognized_keys';
      // An unknown option, or a definition that is not an object, comes first; an option's own unknown key first within it.
      const rank = issue.path.length === 0 ? -1 : CHECK_ORDER.indexOf(String(top)) - (unknownKey ? 0.25 : 0) + nestedRank(issue.path);
      problems.push({ rank, problem: issue });
    }
    // backoff's maxDelay below its delay is checked by its transform, which runs only without problems in backoff:
    // it comes before a bad jitter, as it always has.
    const b = (def as { backoff?: unknown } | null)?.backoff as Record<string, unknown> | undefined;
    if (typeof b === 'object' && b !== null) {
      const delayMs = b['delay'] === undefined ? JOB_DEFAULTS.backoff.delayMs : parseDuration(b['delay']);
      const maxDelayMs = b['maxDelay'] === undefined ? JOB_DEFAULTS.backoff.maxDelayMs : parseDuration(b['maxDelay']);
      if (typeof delayMs === 'number' && typeof maxDelayMs === 'number' && maxDelayMs < delayMs) {
        const message = `(${maxDelayMs} ms) must not be less than backoff.delay (${delayMs} ms)`;
        problems.push({ rank: CHECK_ORDER.indexOf('backoff') + nestedRank(['backoff', 'maxDelay']) + 0.005, problem: { path: ['backoff', 'maxDelay'], message } });
      }
    }
    // The cron expression is checked by the transform, which runs only on options without problems: a later option's
    // problem (catchUp) must not hide it.
    const d = def as Record<string, unknown> | null;
    if (typeof d === 'object' && d !== null && typeof d['cron'] === 'string' && (d['tz'] == null || typeof d['tz'] === 'string')) {
      const message = checkCron(d['cron'], d['tz'] ?? DEFAULT_TZ);
      if (message !== undefined) problems.push({ rank: CHECK_ORDER.indexOf('cron'), problem: { path: ['cron'], message } });
    }
  }
  let first = problems[0];
  for (const p of problems) if (first === undefined || p.rank < first.rank) first = p;
  if (first === undefined) return new JobDefinitionError(job, undefined, 'is not a valid definition');
  const { problem } = first;
  const path: string[] = [];
  for (const segment of problem.path) {
    // A version is named by its place in the list: `versions[0].migrate`.
    if (typeof segment === 'number' && path.length === 1 && path[0] === 'versions') {
      path[0] = `versions[${segment}]`;
      continue;
    }
    if (typeof segment !== 'string') break; // `unique.by`, not `unique.by.0`
    path.push(segment);
  }
  if (problem.code === 'unrecognized_keys' && problem.keys?.[0] !== undefined) path.push(problem.keys[0]);
  return new JobDefinitionError(job, path.length === 0 ? undefined : path.join('.'), problem.message);
}

// ---------------------------------------------------------------------------------------------------------------
// Types derived from the declaration.

/** `T` with every property readonly at every depth (primitives, `string & {}` included, functions and zod schemas kept as they are). */
export type DeepReadonly<T> = T extends string | number | boolean | bigint | symbol | null | undefined
  ? T
  : T extends (...args: never[]) => unknown
  ? T
  : T extends z.core.$ZodType
    ? T
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/** What a job definition may hold, as declared by {@link jobOptionsSchema}. */
export type JobOptionsInput = DeepReadonly<z.input<typeof optionsObject>>;
/** The resolved options of a job: {@link jobOptionsSchema}'s output. */
export type ResolvedOptions = DeepReadonly<z.output<typeof jobOptionsSchema>>;
type ResolvedOptionsOf = z.output<typeof resolvedOptions>;

/**
 * A job definition with every default filled in and every duration in milliseconds: the output of
 * {@link jobOptionsSchema}, with the job's name.
 */
export interface ResolvedJob extends ResolvedOptions {
  /** The job's name. */
  readonly name: string;
}
